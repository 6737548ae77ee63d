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
    const long Low32 = 0xFFFFFFFFL;

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

    /// <summary>The 16 drawn bits of elements 0..n−1 under <paramref name="key"/>, as int64 (32-bit arithmetic on int64 values that never overflow).</summary>
    static Tensor Bits(long n, uint key, Device device)
    {
        using var s = KeptScalars.Rent();
        // TorchSharp's bitwise operations take tensors: the constants as 0-d int64 tensors on the device.
        Tensor C(long value) => torch.tensor(value, ScalarType.Int64, device);
        var (low32, low16) = (C(Low32), C(0xFFFFL));
        var h = torch.arange(s[0L], s[n], s[1L], ScalarType.Int64, device).add_(s[(long)key], ScalarCalls.One).bitwise_and_(low32);
        h = Shift(h, C(16));
        h = MultiplyLow32(h, 0x7FEB352DL, low32, low16, C(16), s);
        h = Shift(h, C(15));
        h = MultiplyLow32(h, 0x846CA68BL, low32, low16, C(16), s);
        h = Shift(h, C(16));
        return h.bitwise_and_(low16);
    }

    /// <summary><c>h ^= h &gt;&gt; by</c>.</summary>
    static Tensor Shift(Tensor h, Tensor by) => h.bitwise_xor_(h.bitwise_right_shift(by));

    /// <summary><c>h * c mod 2^32</c> for <c>h, c &lt; 2^32</c>, in halves so no product passes 2^48.</summary>
    static Tensor MultiplyLow32(Tensor h, long c, Tensor low32, Tensor low16, Tensor sixteen, KeptScalars s)
    {
        var low = h.bitwise_and(low16).mul_(s[c]);
        var high = h.bitwise_right_shift(sixteen).mul_(s[c]).bitwise_and_(low16).bitwise_left_shift_(sixteen);
        return low.Plus_(high).bitwise_and_(low32);
    }
}
