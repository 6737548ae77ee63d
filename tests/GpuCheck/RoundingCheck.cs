using System;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.GpuCheck;

/// <summary>Stochastic rounding and Kahan compensation in the fused CUDA kernels, against the CPU's portable path.</summary>
public static class RoundingCheck
{
    /// <summary>Values of every kind for the rounding function: many magnitudes, zeros, subnormals, the largest finite, infinities, NaN.</summary>
    static float[] Values()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 200_000).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-140, 128)))).ToList();
        values.AddRange(new[] { 0f, -0f, 1f, float.Epsilon, -3e-40f, float.MaxValue, -float.MaxValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN });
        return values.ToArray();
    }

    static bool SameBits(Tensor a, Tensor b)
    {
        var x = a.cpu().to(ScalarType.Float32).data<float>().ToArray();
        var y = b.cpu().to(ScalarType.Float32).data<float>().ToArray();
        return x.Length == y.Length && x.Zip(y).All(v => BitConverter.SingleToUInt32Bits(v.First) == BitConverter.SingleToUInt32Bits(v.Second)
            || (float.IsNaN(v.First) && float.IsNaN(v.Second)));
    }

    /// <summary>
    /// SGD with momentum kept in 8 bits under Kahan on CUDA (the 8-bit kernel rounds to nearest, so these parameters
    /// must take the portable path from the first step): 50 updates of 2^-12 on weights at 1 against the portable path
    /// asked for. Returns whether the buffer compensated and how far the two ended apart.
    /// </summary>
    public static (bool Compensated, float Apart) EightBitKahan()
    {
        const int steps = 50, n = 512;
        Parameter Weights() => new(torch.ones(n, ScalarType.BFloat16, CUDA));
        var (auto, portable) = (Weights(), Weights());
        using var a = new SGD(new[] { auto }, lr: 1.0 / 4096, momentum: 0.9) { Rounding = HalfPrecisionRounding.Kahan };
        using var b = new SGD(new[] { portable }, lr: 1.0 / 4096, momentum: 0.9) { Rounding = HalfPrecisionRounding.Kahan, Backend = UpdateBackend.Portable };
        a.QuantizeState(a.Spec.States[0].Name);
        b.QuantizeState(b.Spec.States[0].Name);
        for (int t = 0; t < steps; t++)
        {
            auto.grad = torch.ones(n, ScalarType.BFloat16, CUDA);
            portable.grad = torch.ones(n, ScalarType.BFloat16, CUDA);
            a.step();
            b.step();
        }
        bool compensated = a.StateOf(auto).Compensation!.to(ScalarType.Float32).abs().max().item<float>() > 0;
        return (compensated, auto.to(ScalarType.Float32).sub(portable.to(ScalarType.Float32)).abs().max().item<float>());
    }

    /// <summary>The portable rounding of the same values on CUDA and on the CPU: the same bits.</summary>
    public static bool PortableSameBits()
    {
        var values = Values();
        using var cpu = torch.zeros(values.Length, ScalarType.BFloat16);
        using var cuda = torch.zeros(values.Length, ScalarType.BFloat16, CUDA);
        StochasticRounding.Store(cpu, torch.tensor(values), 1234);
        StochasticRounding.Store(cuda, torch.tensor(values).cuda(), 1234);
        return SameBits(cpu, cuda);
    }

    /// <summary>
    /// SGD on bfloat16 (stochastic, Kahan) and float16 (Kahan) parameters, fused on CUDA against portable on the CPU over
    /// 8 steps: lr 2^-10 and gradients on the grid k/1024 make every update exact in float32 on both, so the stored
    /// bits (and Kahan's buffers) must agree exactly. Also returns the CUDA optimizer's status (it must be fused).
    /// </summary>
    public static (bool Same, string Status) FusedAgainstCpu(ScalarType type, HalfPrecisionRounding rounding)
    {
        var sizes = new long[] { 1, 3, 4, 1000, 65536 + 5, 300_001 };
        var start = sizes.Select((n, k) => torch.tensor(Enumerable.Range(0, (int)n).Select(i => (float)Math.Sin(0.37 * i + k)).ToArray()).to(type)).ToArray();
        Parameter[] Make(Device d) => start.Select(t => new Parameter(t.to(d, copy: true))).ToArray();
        var (onCuda, onCpu) = (Make(CUDA), Make(CPU));
        using var fused = new SGD(onCuda, lr: 1.0 / 1024) { Rounding = rounding, RoundingSeed = 77, Backend = UpdateBackend.Fused };
        using var portable = new SGD(onCpu, lr: 1.0 / 1024) { Rounding = rounding, RoundingSeed = 77 };
        for (int step = 1; step <= 8; step++)
        {
            for (int k = 0; k < sizes.Length; k++)
            {
                var g = torch.tensor(Enumerable.Range(0, (int)sizes[k]).Select(i => (float)(((i * 37 + step * 11 + k) % 2049) - 1024) / 1024f).ToArray()).to(type);
                onCpu[k].grad = g;
                onCuda[k].grad = g.cuda();
            }
            fused.step();
            portable.step();
        }
        bool same = onCuda.Zip(onCpu).All(x => SameBits(x.First, x.Second));
        if (rounding == HalfPrecisionRounding.Kahan)
            same &= onCuda.Zip(onCpu).All(x => SameBits(fused.StateOf(x.First).Compensation!, portable.StateOf(x.Second).Compensation!));
        return (same, fused.FusedStatus);
    }
}
