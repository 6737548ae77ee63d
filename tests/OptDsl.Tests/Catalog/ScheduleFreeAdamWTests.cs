using System;
using System.IO;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Schedule-free AdamW against the paper's form of the method (Defazio et al. 2024, Alg. 1), written out here over
/// plain tensors: it keeps the iterate z and the average x, and takes gradients at y = (1 - β1) z + β1 x. The
/// optimizer keeps y and z instead, so its parameters must equal that y and its swapped-in average that x.
/// </summary>
public class ScheduleFreeAdamWTests
{
    sealed record Setting(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, int Warmup, double R, double Power);

    static readonly Setting Default = new(0.05, 0.9, 0.99, 1e-8, 0.1, 5, 0, 2);

    static ScheduleFreeAdamW Create(Parameter[] parameters, Setting s) =>
        new(parameters, lr: s.Lr, beta1: s.Beta1, beta2: s.Beta2, eps: s.Eps, weightDecay: s.WeightDecay, warmupSteps: s.Warmup,
            r: s.R, weightLrPower: s.Power);

    /// <summary>The paper's recurrences in float64: returns (y, x) after <paramref name="steps"/> steps.</summary>
    static (Tensor[] Y, Tensor[] X) Reference(Setting s, int steps)
    {
        using var kept = KeptScalars.Rent();
        var start = TestData.Parameters(ScalarType.Float64);
        var z = start.Select(p => p.detach().clone()).ToArray();
        var x = start.Select(p => p.detach().clone()).ToArray();
        var v = start.Select(p => torch.zeros_like(p)).ToArray();
        double lrMax = 0, weightSum = 0;
        for (int t = 1; t <= steps; t++)
        {
            double gamma = s.Warmup > 0 ? s.Lr * Math.Min(1.0, (double)t / s.Warmup) : s.Lr;
            lrMax = Math.Max(lrMax, gamma);
            double weight = Math.Pow(t, s.R) * Math.Pow(lrMax, s.Power);
            weightSum += weight;
            double c = weight / weightSum;
            for (int k = 0; k < start.Length; k++)
            {
                var y = z[k].mul(kept[(1 - s.Beta1)]).Plus(x[k].mul(kept[s.Beta1]));
                var g = TestData.Gradient(t, k, ScalarType.Float64);
                v[k] = v[k].mul(kept[s.Beta2]).Plus(g.mul(kept[(1 - s.Beta2)]) * g);
                var direction = (g / v[k].div(kept[(1 - Math.Pow(s.Beta2, t))]).sqrt().add(kept[s.Eps], ScalarCalls.One)).Plus(y.mul(kept[s.WeightDecay]));
                z[k] = z[k] - direction.mul(kept[gamma]);
                x[k] = x[k].mul(kept[(1 - c)]).Plus(z[k].mul(kept[c]));
            }
        }
        var yFinal = z.Zip(x, (zk, xk) => zk.mul(kept[(1 - s.Beta1)]).Plus(xk.mul(kept[s.Beta1]))).ToArray();
        return (yFinal, x);
    }

    static double MaxRelative(Tensor[] expected, Tensor[] actual)
    {
        using var kept = KeptScalars.Rent();
        return expected.Zip(actual).Max(p => ((p.First - p.Second.to(ScalarType.Float64)).abs() / p.First.abs().add(kept[1e-3], ScalarCalls.One)).max().item<double>());
    }

    static Parameter[] Train(Setting s, int steps, ScalarType dtype, UpdateBackend backend, out ScheduleFreeAdamW optimizer)
    {
        var parameters = TestData.Parameters(dtype);
        optimizer = Create(parameters, s);
        optimizer.Backend = backend;
        for (int t = 1; t <= steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        return parameters;
    }

    public static TheoryData<string> Settings() => new() { "default", "step-weighted", "no warmup, no decay" };

    static Setting Named(string name) => name switch
    {
        "default" => Default,
        // Weights t * 1: the average becomes a uniform (Polyak) average from the first step.
        "step-weighted" => Default with { R = 1, Power = 0, Warmup = 0 },
        _ => Default with { Warmup = 0, WeightDecay = 0, Beta1 = 0.5 },
    };

    /// <summary>
    /// In float64 the two forms differ only in rounding (y and z against z and x): 1e-12 relative over 20 steps. In
    /// float32 the parameters' rounding per step (1e-7) over 20 steps, with the gradient-scale changes of steps 7-9
    /// and 13, stays well within 2e-5.
    /// </summary>
    [Theory]
    [MemberData(nameof(Settings))]
    public void Parameters_are_the_papers_y_and_the_swapped_in_average_its_x(string setting)
    {
        var s = Named(setting);
        var (y, x) = Reference(s, 20);
        foreach (var (dtype, backend, tolerance) in new[]
                 {
                     (ScalarType.Float64, UpdateBackend.Portable, 1e-12),
                     (ScalarType.Float32, UpdateBackend.Portable, 2e-5),
                     (ScalarType.Float32, UpdateBackend.Fused, 2e-5),
                 })
        {
            var parameters = Train(s, 20, dtype, backend, out var optimizer);
            using (optimizer)
            {
                Assert.True(MaxRelative(y, parameters) <= tolerance, $"{dtype} {backend}: y off by {MaxRelative(y, parameters):E2}");
                using (optimizer.SwapInAverage())
                    Assert.True(MaxRelative(x, parameters) <= tolerance, $"{dtype} {backend}: x off by {MaxRelative(x, parameters):E2}");
            }
        }
    }

    [Fact]
    public void The_generated_fused_CPU_update_runs_it()
    {
        Train(Default, 1, ScalarType.Float32, UpdateBackend.Fused, out var optimizer);
        using (optimizer) Assert.StartsWith("CPU:", optimizer.FusedStatus);
    }

    [Fact]
    public void Swapping_the_average_in_and_out_restores_the_training_point_exactly_and_refuses_training_meanwhile()
    {
        var parameters = Train(Default, 6, ScalarType.Float32, UpdateBackend.Portable, out var optimizer);
        using (optimizer)
        {
            var y = parameters.Select(p => p.detach().clone()).ToArray();
            var checkpoint = Path.Combine(Path.GetTempPath(), $"optdsl-sf-{Guid.NewGuid():N}.ckpt");
            optimizer.SaveCheckpoint(checkpoint);
            try
            {
                using (optimizer.SwapInAverage())
                {
                    Assert.True(optimizer.IsAverageSwappedIn);
                    Assert.False(TestData.Identical(y[0], parameters[0]));
                    Assert.Throws<InvalidOperationException>(() => optimizer.SwapInAverage());
                    TestData.SetGradients(parameters, 7);
                    var e = Assert.Throws<InvalidOperationException>(() => optimizer.step());
                    Assert.Contains("SwapInAverage", e.Message);
                    Assert.Throws<InvalidOperationException>(() => optimizer.LoadCheckpoint(checkpoint));
                    Assert.Equal(6, optimizer.StepCount);
                }
                Assert.False(optimizer.IsAverageSwappedIn);
                for (int k = 0; k < y.Length; k++) Assert.True(TestData.Identical(y[k], parameters[k]), $"parameter {k}");
                optimizer.step();
                Assert.Equal(7, optimizer.StepCount);
            }
            finally
            {
                File.Delete(checkpoint);
            }
        }
    }

    [Fact]
    public void Disposing_the_optimizer_puts_the_training_point_back()
    {
        var parameters = Train(Default, 3, ScalarType.Float32, UpdateBackend.Portable, out var optimizer);
        var y = parameters.Select(p => p.detach().clone()).ToArray();
        optimizer.SwapInAverage();
        optimizer.Dispose();
        for (int k = 0; k < y.Length; k++) Assert.True(TestData.Identical(y[k], parameters[k]), $"parameter {k}");
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_the_averaging_weights_exactly()
    {
        var straight = Train(Default, 12, ScalarType.Float32, UpdateBackend.Fused, out var uninterrupted);
        var first = Train(Default, 5, ScalarType.Float32, UpdateBackend.Fused, out var before);
        var path = Path.Combine(Path.GetTempPath(), $"optdsl-sf-{Guid.NewGuid():N}.ckpt");
        try
        {
            before.SaveCheckpoint(path);
            var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
            using var after = new ScheduleFreeAdamW(resumed, lr: 1) { Backend = UpdateBackend.Fused };
            after.LoadCheckpoint(path);
            Assert.Equal(before.StateOf(first[0]).WeightSum, after.StateOf(resumed[0]).WeightSum);
            for (int t = 6; t <= 12; t++)
            {
                TestData.SetGradients(resumed, t);
                after.step();
            }
            for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(straight[k], resumed[k]), $"parameter {k}");
            Assert.Equal(uninterrupted.StateOf(straight[0]).LrMax, after.StateOf(resumed[0]).LrMax);
        }
        finally
        {
            File.Delete(path);
            uninterrupted.Dispose();
            before.Dispose();
        }
    }

    [Fact]
    public void Half_precision_parameters_keep_z_and_the_average_in_float32()
    {
        var parameters = Train(Default, 4, ScalarType.BFloat16, UpdateBackend.Portable, out var optimizer);
        using (optimizer)
        {
            Assert.Equal(ScalarType.Float32, optimizer.StateOf(parameters[0]).Z.dtype);
            var (_, x) = Reference(Default, 4);
            using (optimizer.SwapInAverage())
                // One bf16 rounding of x (2^-8 relative) on top of bf16 training over 4 steps: measured 9e-3
                // (about one bf16 ulp), bounded at 2e-2.
                Assert.True(MaxRelative(x, parameters) <= 0.02, $"x off by {MaxRelative(x, parameters):E2}");
        }
    }

    [Fact]
    public void Beta1_of_zero_is_refused_since_the_average_could_not_be_recovered()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new ScheduleFreeAdamW(TestData.Parameters(ScalarType.Float32), beta1: 0));
        Assert.Contains("beta1", e.Message);
    }
}
