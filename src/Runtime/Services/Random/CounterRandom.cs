using System;

namespace OptDsl.Runtime.Services.Random;

/// <summary>
/// Counter-based random numbers: every value is a pure function of (seed, stream, element index), computed by
/// Philox4x32-10 (Salmon et al., 2011, "Parallel random numbers: as easy as 1, 2, 3"). Nothing is stored and any
/// element can be regenerated alone, in any order, on any device — what zero-order methods need to perturb
/// parameters in place and undo the perturbation exactly.
/// </summary>
/// <remarks>
/// Element <c>i</c> of stream <c>s</c> under seed <c>k</c> is Philox with counter (lo i, hi i, lo s, hi s) and key
/// (lo k, hi k). A uniform uses the first output word, a normal the first two (Box–Muller). The normal's logarithm and
/// cosine are computed here from additions, multiplications, divisions and one square root in float32, in a fixed
/// order — operations IEEE 754 rounds the same everywhere — so this host code and the tensor code in
/// <see cref="CounterRandomTensors"/> give the same bits on the CPU and on CUDA.
/// </remarks>
public static class CounterRandom
{
    const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Philox4x32 with 10 rounds: four output words of counter (c0..c3) under key (k0, k1).</summary>
    public static (uint, uint, uint, uint) Philox(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            (c0, c1, c2, c3) = ((uint)(p1 >> 32) ^ c1 ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c3 ^ k1, (uint)p0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The first two output words for element <paramref name="index"/> of <paramref name="stream"/> under <paramref name="seed"/>.</summary>
    public static (uint, uint) Words(ulong seed, ulong stream, long index)
    {
        var (x0, x1, _, _) = Philox((uint)index, (uint)((ulong)index >> 32), (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        return (x0, x1);
    }

    /// <summary>A word as a float32 uniform in (0, 1]: its top 24 bits plus one, times 2^-24 (exact).</summary>
    public static float ToUniform(uint word) => ((word >> 8) + 1) * (1f / 16777216f);

    /// <summary>The uniform in (0, 1] of element <paramref name="index"/>.</summary>
    public static float Uniform(ulong seed, ulong stream, long index) => ToUniform(Words(seed, stream, index).Item1);

    /// <summary>The standard normal of element <paramref name="index"/> (Box–Muller on the first two words).</summary>
    public static float Normal(ulong seed, ulong stream, long index)
    {
        var (x0, x1) = Words(seed, stream, index);
        return BoxMuller(ToUniform(x0), ToUniform(x1));
    }

    /// <summary><c>sqrt(-2 ln u0) * cos(2π u1)</c> for uniforms in (0, 1], in float32 with the fixed operations below.</summary>
    public static float BoxMuller(float u0, float u1) => MathF.Sqrt(Log(u0) * -2f) * CosTurn(u1);

    // The constants both implementations use, rounded to float32 once here.
    internal const float Sqrt2 = 1.41421356f, Ln2 = 0.693147182f, TwoPi = 6.28318548f;
    internal static readonly float[] LogSeries = { 1f / 9f, 1f / 7f, 1f / 5f, 1f / 3f };
    internal static readonly float[] CosSeries =
        { -1f / 87178291200f, 1f / 479001600f, -1f / 3628800f, 1f / 40320f, -1f / 720f, 1f / 24f, -0.5f, 1f };

    /// <summary>
    /// ln x for x in (0, 1] in float32: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m-1)/(m+1)
    /// by its series to s^9 (|s| &lt;= 0.172: the next term is below float32's precision), plus e ln 2.
    /// </summary>
    internal static float Log(float x)
    {
        int bits = BitConverter.SingleToInt32Bits(x);
        int e = (bits >> 23) - 127;
        float m = BitConverter.Int32BitsToSingle((bits & 0x7FFFFF) | 0x3F800000);
        if (m > Sqrt2)
        {
            m *= 0.5f;
            e += 1;
        }
        float s = (m - 1f) / (m + 1f);
        float s2 = s * s;
        float p = LogSeries[0];
        for (int k = 1; k < LogSeries.Length; k++) p = p * s2 + LogSeries[k];
        float twoS = s * 2f;
        return e * Ln2 + (twoS + twoS * (s2 * p));
    }

    /// <summary>
    /// cos(2π t) for t in (0, 1] in float32: folded onto t in [0, 1/4] with exact steps (t -> 1 - t, t -> 1/2 - t with a
    /// sign), then the Taylor series of cos(x) to x^14 on x = 2π t &lt;= π/2 (the next term is below float32's precision).
    /// </summary>
    internal static float CosTurn(float t)
    {
        if (t > 0.5f) t = 1f - t;
        float sign = 1f;
        if (t > 0.25f)
        {
            t = 0.5f - t;
            sign = -1f;
        }
        float x = t * TwoPi;
        float y = x * x;
        float c = CosSeries[0];
        for (int k = 1; k < CosSeries.Length; k++) c = c * y + CosSeries[k];
        return c * sign;
    }
}
