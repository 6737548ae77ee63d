using System;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Services.Random;

/// <summary>
/// <see cref="CounterRandom"/>'s numbers as tensors on any device, the same bits everywhere. On the CPU they are computed
/// by the host code itself (in parallel); elsewhere as TorchSharp operations: the 32-bit words held in int64 with every
/// product split so that nothing overflows, the normal from operations IEEE 754 rounds exactly (add, multiply, divide,
/// square root, compare, <c>frexp</c>), each its own kernel, so no device contracts them differently. (libtorch's CPU
/// square root is not correctly rounded — it is off by one ulp now and then — which is why the CPU uses the host code.)
/// </summary>
public static class CounterRandomTensors
{
    const long Low32 = 1L << 32;

    /// <summary>Standard normals for elements <paramref name="offset"/>.. of <paramref name="stream"/>, shaped <paramref name="shape"/>, float32.</summary>
    public static Tensor Normal(ulong seed, ulong stream, long[] shape, Device device, long offset = 0)
    {
        if (device.type == DeviceType.CPU) return OnHost(shape, offset, i => CounterRandom.Normal(seed, stream, i));
        using var scope = NewDisposeScope();
        var (x0, x1) = Words(seed, stream, Count(shape), device, offset);
        var result = BoxMuller(ToUniform(x0), ToUniform(x1)).reshape(shape);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Uniforms in (0, 1] for elements <paramref name="offset"/>.. of <paramref name="stream"/>, shaped <paramref name="shape"/>, float32.</summary>
    public static Tensor Uniform(ulong seed, ulong stream, long[] shape, Device device, long offset = 0)
    {
        if (device.type == DeviceType.CPU) return OnHost(shape, offset, i => CounterRandom.Uniform(seed, stream, i));
        using var scope = NewDisposeScope();
        var (x0, _) = Words(seed, stream, Count(shape), device, offset);
        return ToUniform(x0).reshape(shape).MoveToOuterDisposeScope();
    }

    /// <summary>A float32 CPU tensor of <paramref name="shape"/> whose element k is <paramref name="value"/>(offset + k), filled in parallel.</summary>
    static Tensor OnHost(long[] shape, long offset, Func<long, float> value)
    {
        long count = Count(shape);
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, "Element indices start at 0.");
        var data = new float[count];
        System.Threading.Tasks.Parallel.For(0, (count + 65535) / 65536, block =>
        {
            long end = Math.Min(count, (block + 1) * 65536);
            for (long k = block * 65536; k < end; k++) data[k] = value(offset + k);
        });
        return tensor(data, ScalarType.Float32).reshape(shape);
    }

    /// <summary>The normal as TorchSharp operations on <paramref name="device"/>, whatever it is (the CUDA path; on the CPU, for checks).</summary>
    internal static Tensor NormalByOperations(ulong seed, ulong stream, long count, Device device, long offset = 0)
    {
        using var scope = NewDisposeScope();
        var (x0, x1) = Words(seed, stream, count, device, offset);
        return BoxMuller(ToUniform(x0), ToUniform(x1)).MoveToOuterDisposeScope();
    }

    static long Count(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException("Shapes have no negative sizes.", nameof(shape));
            n *= d;
        }
        return n;
    }

    /// <summary>The first two Philox words of <paramref name="count"/> consecutive elements, as int64 tensors in [0, 2^32).</summary>
    public static (Tensor, Tensor) Words(ulong seed, ulong stream, long count, Device device, long offset = 0)
    {
        using var kept = KeptScalars.Rent();
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, "Element indices start at 0.");
        var index = arange(kept[offset], kept[offset + count], ScalarCalls.One, ScalarType.Int64, device);
        Tensor c0 = index.remainder(kept[Low32]), c1 = index.div(kept[Low32], rounding_mode: RoundingMode.floor);
        Tensor c2 = full(count, kept[(long)(uint)stream], ScalarType.Int64, device), c3 = full(count, kept[(long)(stream >> 32)], ScalarType.Int64, device);
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += 0x9E3779B9;
                k1 += 0xBB67AE85;
            }
            var (hi0, lo0) = MulHiLo(0xD2511F53, c0);
            var (hi1, lo1) = MulHiLo(0xCD9E8D57, c2);
            (c0, c1, c2, c3) = (Xor(hi1.bitwise_xor(c1), k0, device), lo1, Xor(hi0.bitwise_xor(c3), k1, device), lo0);
        }
        return (c0, c1);
    }

    static Tensor Xor(Tensor x, uint key, Device device)
    {
        using var kept = KeptScalars.Rent();
        return x.bitwise_xor(full(Array.Empty<long>(), kept[(long)key], ScalarType.Int64, device));
    }

    /// <summary>The high and low words of <paramref name="m"/> * <paramref name="a"/> (a in [0, 2^32)), with every partial product below 2^49.</summary>
    static (Tensor Hi, Tensor Lo) MulHiLo(uint m, Tensor a)
    {
        using var kept = KeptScalars.Rent();
        long mLow = m & 0xFFFF, mHigh = m >> 16;
        var low = a.mul(kept[mLow]);                                                    // < 2^48
        var high = a.mul(kept[mHigh]);                                                  // < 2^48; the product is low + high * 2^16
        var sum = low.Plus(high.remainder(kept[1L << 16]).mul(kept[1L << 16]));         // < 2^49
        var hi = high.div(kept[1L << 16], rounding_mode: RoundingMode.floor).Plus(sum.div(kept[Low32], rounding_mode: RoundingMode.floor));
        return (hi, sum.remainder(kept[Low32]));
    }

    /// <summary>Words as float32 uniforms in (0, 1]: the top 24 bits plus one, times 2^-24 (exact).</summary>
    public static Tensor ToUniform(Tensor words)
    {
        using var kept = KeptScalars.Rent();
        return words.div(kept[256], rounding_mode: RoundingMode.floor).add(kept[1], ScalarCalls.One).to(ScalarType.Float32).mul(kept[1.0 / 16777216.0]);
    }

    /// <summary><see cref="CounterRandom.BoxMuller"/> elementwise.</summary>
    public static Tensor BoxMuller(Tensor u0, Tensor u1)
    {
        using var kept = KeptScalars.Rent();
        return Log(u0).mul(kept[-2.0]).sqrt().mul(CosTurn(u1));
    }

    internal static Tensor Log(Tensor x)
    {
        using var kept = KeptScalars.Rent();
        var (fraction, exponent) = x.frexp();
        var m = fraction.mul(kept[2.0]);
        var e = exponent.to(ScalarType.Float32).sub(kept[1.0]);
        var fold = m.gt(kept[CounterRandom.Sqrt2]);
        m = where(fold, m.mul(kept[0.5]), m);
        e = where(fold, e.add(kept[1.0], ScalarCalls.One), e);
        var s = m.sub(kept[1.0]).div(m.add(kept[1.0], ScalarCalls.One));
        var s2 = s.mul(s);
        var p = full_like(s, kept[CounterRandom.LogSeries[0]]);
        for (int k = 1; k < CounterRandom.LogSeries.Length; k++) p = p.mul(s2).add(kept[CounterRandom.LogSeries[k]], ScalarCalls.One);
        var twoS = s.mul(kept[2.0]);
        return e.mul(kept[CounterRandom.Ln2]).Plus(twoS.Plus(twoS.mul(s2.mul(p))));
    }

    internal static Tensor CosTurn(Tensor t)
    {
        using var kept = KeptScalars.Rent();
        t = where(t.gt(kept[0.5f]), t.neg().add(kept[1.0], ScalarCalls.One), t);
        var flip = t.gt(kept[0.25f]);
        t = where(flip, t.neg().add(kept[0.5], ScalarCalls.One), t);
        var x = t.mul(kept[CounterRandom.TwoPi]);
        var y = x.mul(x);
        var c = full_like(y, kept[CounterRandom.CosSeries[0]]);
        for (int k = 1; k < CounterRandom.CosSeries.Length; k++) c = c.mul(y).add(kept[CounterRandom.CosSeries[k]], ScalarCalls.One);
        return where(flip, c.neg(), c);
    }
}
