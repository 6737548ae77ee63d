using System;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>
/// Stochastic rounding of a float32 update into a bfloat16 parameter, reproducible: element <c>i</c> of parameter
/// <c>k</c> at step <c>t</c> under seed <c>s</c> draws 16 bits <c>r = Mix(Key(s, t, k) + i) &amp; 0xFFFF</c> (a counter,
/// not a generator's state), adds them to the low 16 bits of the float32 value and keeps the high 16: it rounds away
/// from zero with probability equal to the part of a bfloat16 step the value has past the lower neighbour, so in
/// expectation it keeps the update round-to-nearest loses. NaN and infinities are kept as they are. The same bits on
/// every device and path for the same seed, step and parameter.
/// </summary>
internal static class StochasticRounding
{
    // 2^32 and 2^16: the word and the half word.
    const long Word = 1L << 32, Half = 1L << 16;

    /// <summary>A 32-bit integer hash (the "lowbias32" constants): every input bit moves every output bit.</summary>
    public static uint Mix(uint x)
    {
        unchecked
        {
            x ^= x >> 16;
            x *= 0x7FEB352Du;
            x ^= x >> 15;
            x *= 0x846CA68Bu;
            x ^= x >> 16;
            return x;
        }
    }

    /// <summary>The key of parameter <paramref name="parameter"/> (its place in the optimizer) at step <paramref name="step"/>.</summary>
    public static uint Key(ulong seed, long step, int parameter)
    {
        unchecked
        {
            uint k = Mix((uint)parameter ^ 0x9E3779B9u);
            k = Mix(k ^ (uint)step ^ Mix((uint)((ulong)step >> 32)));
            k = Mix(k ^ (uint)seed);
            return Mix(k ^ (uint)(seed >> 32));
        }
    }

    /// <summary>The bfloat16 bits element <paramref name="element"/> of value <paramref name="x"/> rounds to under <paramref name="key"/>: the definition the tensor code follows.</summary>
    public static ushort Round(float x, uint key, long element)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        // Infinities as they are; every NaN as the one quiet NaN the kernels and libtorch's conversion give.
        if ((bits & 0x7F800000u) == 0x7F800000u) return (ushort)((bits & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : bits >> 16);
        uint r = Mix(unchecked(key + (uint)element)) & 0xFFFFu;
        return (ushort)(unchecked(bits + r) >> 16);
    }

    /// <summary>
    /// Rounds <paramref name="p32"/> (float32, the parameter's new value) stochastically into <paramref name="p"/>
    /// (bfloat16, same shape), as <see cref="Round"/> does element by element in row-major order, with float arithmetic
    /// that is exact: the value in units of its bfloat16 step, whose integer part is the lower neighbour and whose
    /// fraction, in 16 bits, is what the drawn bits are added to. Works on any device.
    /// </summary>
    public static void Store(Tensor p, Tensor p32, uint key)
    {
        using var scope = torch.NewDisposeScope();
        using var s = KeptScalars.Rent();
        var x = p32.flatten();
        // The bfloat16 step at x: 2^(e − 8) for x in [2^(e−1), 2^e), at least 2^−133 (bfloat16's subnormal step).
        var (_, exponent) = torch.frexp(x);
        var step = torch.ldexp(torch.ones_like(x), exponent.sub(s[8L]).clamp_min(s[-133L]));
        var units = x.div(step);
        var lower = units.trunc();
        var fraction = units.sub(lower).abs_().mul_(s[65536.0]);
        var up = Bits(x.NumberOfElements, key, x.device).to(ScalarType.Float32).Plus_(fraction).ge_(s[65536.0]).to(ScalarType.Float32);
        // Away from zero by |lower| + up, the sign put back after (so that −0 stays −0).
        var rounded = lower.abs_().Plus_(up).copysign_(x).mul_(step);
        // Infinities and NaN as they are (their step and units are not numbers).
        var kept = torch.where(x.isfinite(), rounded, x);
        p.copy_(kept.reshape(p.shape));
    }

    /// <summary>
    /// The 16 drawn bits of elements 0..n−1 under <paramref name="key"/>, as int64: 32-bit arithmetic on values below 2^32,
    /// with every product split below 2^48 and the bit operations written with Scalars (a floor division for a right
    /// shift, a remainder for a mask), as CounterRandomTensors does, so no constant tensor is copied to the device.
    /// </summary>
    static Tensor Bits(long n, uint key, Device device)
    {
        using var s = KeptScalars.Rent();
        var h = torch.arange(s[0L], s[n], s[1L], ScalarType.Int64, device).add_(s[(long)key], ScalarCalls.One).remainder_(s[Word]);
        h = Shift(h, 1L << 16, s);
        h = MultiplyLow32(h, 0x7FEB352DL, s);
        h = Shift(h, 1L << 15, s);
        h = MultiplyLow32(h, 0x846CA68BL, s);
        h = Shift(h, 1L << 16, s);
        return h.remainder_(s[Half]);
    }

    /// <summary><c>h ^= h &gt;&gt; k</c>, where <paramref name="by"/> is 2^k.</summary>
    static Tensor Shift(Tensor h, long by, KeptScalars s) => h.bitwise_xor_(h.div(s[by], rounding_mode: RoundingMode.floor));

    /// <summary><c>h * c mod 2^32</c> for <c>h, c &lt; 2^32</c>, in halves so no product passes 2^48.</summary>
    static Tensor MultiplyLow32(Tensor h, long c, KeptScalars s)
    {
        var low = h.remainder(s[Half]).mul_(s[c]);
        var high = h.div(s[Half], rounding_mode: RoundingMode.floor).mul_(s[c]).remainder_(s[Half]).mul_(s[Half]);
        return low.Plus_(high).remainder_(s[Word]);
    }
}
