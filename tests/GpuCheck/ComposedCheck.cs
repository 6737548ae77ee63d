using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// A composed recipe on CUDA — accumulation, global-norm clipping, fused AdamW, Lookahead, EMA — against the same
/// recipe in float64 on the CPU, and its exact resume from a checkpoint.
/// </summary>
public static class ComposedCheck
{
    const int Updates = 12;

    static ComposedOptimizer Recipe(Parameter[] parameters, UpdateBackend backend)
    {
        var adamw = new Optimizers.AdamW(parameters, lr: 0.01, weightDecay: 0.01) { Backend = backend };
        adamw.Schedule("lr", Schedules.Wsd(Updates, 3, 0.3, peak: 0.01));
        return adamw.Compose(new AccumulateGradients(2), new ClipGradNorm(0.5), new Lookahead(3, 0.5), WeightAverage.Ema(0.9));
    }

    static void Train(ComposedOptimizer opt, Parameter[] parameters, int from, int to)
    {
        for (int u = from; u <= to; u++)
            for (int m = 0; m < 2; m++)
            {
                opt.zero_grad();
                TestData.AddGradients(parameters, 2 * u + m);
                opt.step();
            }
    }

    static double MaxDifference(Tensor[] a, Tensor[] b) =>
        a.Zip(b).Max(p => (p.First.cpu().to(ScalarType.Float64) - p.Second.cpu().to(ScalarType.Float64)).abs().max().item<double>());

    /// <summary>Max |CUDA fused fp32 − CPU fp64| over the weights and the EMA after <see cref="Updates"/> updates.</summary>
    public static (double Weights, double Average) AgainstCpu()
    {
        var gpu = TestData.Parameters(ScalarType.Float32, CUDA);
        using var onGpu = Recipe(gpu, UpdateBackend.Fused);
        Train(onGpu, gpu, 1, Updates);
        var cpu = TestData.Parameters(ScalarType.Float64);
        using var onCpu = Recipe(cpu, UpdateBackend.Portable);
        Train(onCpu, cpu, 1, Updates);
        return (MaxDifference(gpu, cpu), MaxDifference(onGpu.Stage<WeightAverage>().Averages.ToArray(), onCpu.Stage<WeightAverage>().Averages.ToArray()));
    }

    /// <summary>5 updates, checkpoint, a fresh recipe over copies of the weights, 7 more: what differs from 12 straight (null: nothing).</summary>
    public static string? ResumeDifference()
    {
        var straight = TestData.Parameters(ScalarType.Float32, CUDA);
        using var a = Recipe(straight, UpdateBackend.Fused);
        Train(a, straight, 1, Updates);

        var first = TestData.Parameters(ScalarType.Float32, CUDA);
        using var b = Recipe(first, UpdateBackend.Fused);
        Train(b, first, 1, 5);
        var path = Path.Combine(Path.GetTempPath(), "optdsl-gpu-composed.ckpt");
        b.SaveCheckpoint(path);
        var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var c = Recipe(resumed, UpdateBackend.Fused);
        c.LoadCheckpoint(path);
        Train(c, resumed, 6, Updates);

        static string? Differ(string what, Tensor[] x, Tensor[] y)
        {
            for (int k = 0; k < x.Length; k++)
            {
                if (x[k].device_type != DeviceType.CUDA || y[k].device_type != DeviceType.CUDA) return $"{what} {k} is not on CUDA";
                if (!x[k].eq(y[k]).all().item<bool>()) return $"{what} {k} differs by up to {MaxDifference([x[k]], [y[k]]):E2}";
            }
            return null;
        }
        return Differ("weight", resumed, straight)
            ?? Differ("slow weight", c.Stage<Lookahead>().SlowWeights.ToArray(), a.Stage<Lookahead>().SlowWeights.ToArray())
            ?? Differ("EMA", c.Stage<WeightAverage>().Averages.ToArray(), a.Stage<WeightAverage>().Averages.ToArray());
    }
}
