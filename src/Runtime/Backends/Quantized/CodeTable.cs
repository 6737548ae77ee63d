using System;
using System.Linq;

namespace OptDsl.Runtime.Backends.Quantized;

/// <summary>
/// The nearest code of a normalised value in two look-ups instead of a binary search: the value's float bits — sign,
/// exponent (clamped to the map's 2⁻²⁷..1 range, with one bucket below it and one for 2 and above, infinity and NaN),
/// and the top <see cref="MantissaBits"/> bits of the mantissa — pick a bucket, a table gives the number of midpoints
/// below the bucket, and at most one midpoint lies inside it (checked when the table is built), so one comparison
/// finishes: <c>code = start[key] + (mid[start[key]] &lt; x)</c>, exactly what bucketizing against the midpoints gives.
/// The fused CUDA kernel uses this table; <see cref="Nearest"/> is the same computation on the host, for tests.
/// </summary>
internal static class CodeTable
{
    /// <summary>Mantissa bits in a bucket's key.</summary>
    public const int MantissaBits = 7;

    /// <summary>The smallest biased exponent with buckets of its own (2⁻²⁷ ≈ 7.5e-9, below both maps' first midpoint).</summary>
    public const int LowExponent = 100;

    /// <summary>Exponent buckets per sign: one below <see cref="LowExponent"/>, LowExponent..127, one for 128 and above.</summary>
    public const int Exponents = 128 - LowExponent + 2;

    /// <summary>Entries per map: two signs.</summary>
    public const int Entries = 2 * Exponents << MantissaBits;

    static readonly Lazy<(byte[] Unsigned, byte[] Signed)> Tables = new(() => (Build(false), Build(true)));
    static readonly Lazy<(float[] Unsigned, float[] Signed)> Mids = new(() => (MidpointsOf(false), MidpointsOf(true)));

    /// <summary>The table of <paramref name="signed"/>'s map: the number of midpoints below each bucket.</summary>
    public static byte[] Starts(bool signed) => signed ? Tables.Value.Signed : Tables.Value.Unsigned;

    /// <summary>The map's midpoints as the kernel computes them, (map[j] + map[j + 1]) · 0.5 in float32.</summary>
    public static float[] Midpoints(bool signed) => signed ? Mids.Value.Signed : Mids.Value.Unsigned;

    static float[] MidpointsOf(bool signed)
    {
        var map = BlockQuantizer.Map(signed);
        return Enumerable.Range(0, map.Count - 1).Select(j => (map[j] + map[j + 1]) * 0.5f).ToArray();
    }

    /// <summary>The bucket of <paramref name="x"/>, as the kernel forms it.</summary>
    public static int Key(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        int e = (int)((u >> 23) & 0xff);
        int clamped = e < LowExponent ? LowExponent - 1 : e > 127 ? 128 : e;
        int mantissa = clamped == LowExponent - 1 || clamped == 128 ? 0 : (int)((u >> (23 - MantissaBits)) & ((1 << MantissaBits) - 1));
        return ((int)(u >> 31) * Exponents + clamped - (LowExponent - 1) << MantissaBits) + mantissa;
    }

    /// <summary>The code the kernel gives <paramref name="x"/>: the number of midpoints below it.</summary>
    public static int Nearest(float x, bool signed)
    {
        var mid = Midpoints(signed);
        int start = Starts(signed)[Key(x)];
        return start + (start < mid.Length && mid[start] < x ? 1 : 0);
    }

    /// <summary>The bounds of bucket <paramref name="key"/>'s values (inclusive), from its sign, exponent and mantissa bits.</summary>
    static (float Low, float High) Bounds(int key)
    {
        int sign = key >> MantissaBits >= Exponents ? 1 : 0;
        int e = (key >> MantissaBits) % Exponents + LowExponent - 1;
        int mantissa = key & ((1 << MantissaBits) - 1);
        (float low, float high) = e == LowExponent - 1
            ? (0f, BitConverter.UInt32BitsToSingle((uint)LowExponent << 23))
            : e == 128
                ? (2f, float.PositiveInfinity)
                : (BitConverter.UInt32BitsToSingle(((uint)e << 23) | ((uint)mantissa << (23 - MantissaBits))),
                   BitConverter.UInt32BitsToSingle(((uint)e << 23) | ((uint)mantissa << (23 - MantissaBits)) | ((1u << (23 - MantissaBits)) - 1)));
        return sign == 0 ? (low, high) : (-high, -low);
    }

    static byte[] Build(bool signed)
    {
        var mid = Midpoints(signed);
        var table = new byte[Entries];
        for (int key = 0; key < Entries; key++)
        {
            var (low, high) = Bounds(key);
            int start = mid.Count(m => m < low);
            int inside = mid.Count(m => m >= low && m <= high);
            if (inside > 1) throw new InvalidOperationException($"Code table: bucket {key} [{low}, {high}] holds {inside} midpoints; use more mantissa bits.");
            table[key] = (byte)start;
        }
        return table;
    }
}
