using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Schedule-free RAdam against the paper's recurrences (Defazio et al. 2024, Alg. 1) with the authors'
/// RAdamScheduleFree's step size, rectification and silent SGD phase, written out over plain tensors in float64: the
/// iterate z, the average x, gradients at y = (1 - β₁) z + β₁ x. The optimizer keeps y and z, so its parameters must
/// equal that y and its swapped-in average that x.
/// </summary>
public class ScheduleFreeRAdamTests
{
    const double Lr = 0.02, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-8, WeightDecay = 0.01;
    const int Steps = 20;

    /// <summary>RAdam's rectification of step <paramref name="t"/>, or null while ρ_t ≤ 4 (Liu et al. 2020, Alg. 2).</summary>
    static double? Rectification(int t)
    {
        double rhoInf = 2 / (1 - Beta2) - 1;
        double rhoT = rhoInf - 2 * t * Math.Pow(Beta2, t) / (1 - Math.Pow(Beta2, t));
        return rhoT > 4 ? Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : null;
    }

    static (Tensor[] Y, Tensor[] X) Reference(int steps, bool silent)
    {
        using var kept = KeptScalars.Rent();
        var start = TestData.Parameters(ScalarType.Float64);
        var z = start.Select(p => p.detach().clone()).ToArray();
        var x = start.Select(p => p.detach().clone()).ToArray();
        var v = start.Select(p => torch.zeros_like(p)).ToArray();
        double lrMax = 0, weightSum = 0;
        for (int t = 1; t <= steps; t++)
        {
            double? rect = Rectification(t);
            double gamma = Lr * (rect ?? (silent ? 0 : 1));
            lrMax = Math.Max(lrMax, gamma);
            double weight = lrMax * lrMax;
            weightSum += weight;
            double c = weightSum > 0 ? weight / weightSum : 0;
            for (int k = 0; k < start.Length; k++)
            {
                var y = z[k].mul(kept[1 - Beta1]).Plus(x[k].mul(kept[Beta1]));
                var g = TestData.Gradient(t, k, ScalarType.Float64);
                v[k] = v[k].mul(kept[Beta2]).Plus(g.mul(g).mul(kept[1 - Beta2]));
                var direction = rect is null ? g : g / v[k].div(kept[1 - Math.Pow(Beta2, t)]).sqrt().add(kept[Eps], ScalarCalls.One);
                direction = direction.Plus(y.mul(kept[WeightDecay]));
                z[k] = z[k] - direction.mul(kept[gamma]);
                x[k] = x[k].mul(kept[1 - c]).Plus(z[k].mul(kept[c]));
            }
        }
        return (z.Zip(x, (zk, xk) => zk.mul(kept[1 - Beta1]).Plus(xk.mul(kept[Beta1]))).ToArray(), x);
    }

    /// <summary>
    /// float64: the two forms differ only in rounding (8e-16 measured); float32: a step's rounding (6e-8) over 20 steps,
    /// through the normalisation (y off by 3e-7 measured, x recovered from y and z through 1/β₁), within 5e-6.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, true, 1e-12)]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, false, 1e-12)]
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, true, 5e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, true, 5e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, false, 5e-6)]
    public void Parameters_are_the_papers_y_and_the_swapped_in_average_its_x(ScalarType dtype, UpdateBackend backend, bool silent, double tolerance)
    {
        using var kept = KeptScalars.Rent();
        // β₂ = 0.99 waits four steps: ρ_4 ≤ 4 < ρ_5.
        Assert.Null(Rectification(4));
        Assert.NotNull(Rectification(5));
        var (y, x) = Reference(Steps, silent);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new ScheduleFreeRAdam(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: WeightDecay,
            silentSgdPhase: silent) { Backend = backend };
        for (int t = 1; t <= Steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        double Off(Tensor[] expected) => expected.Zip(parameters).Max(p =>
            ((p.First - p.Second.to(ScalarType.Float64)).abs() / p.First.abs().add(kept[1e-3], ScalarCalls.One)).max().item<double>());
        Assert.True(Off(y) <= tolerance, $"y off by {Off(y):E2}");
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        using (optimizer.SwapInAverage())
            Assert.True(Off(x) <= tolerance, $"x off by {Off(x):E2}");
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(before[k], parameters[k]), "y not restored");
        if (backend == UpdateBackend.Fused) Assert.StartsWith("CPU:", optimizer.FusedStatus);
    }

    [Fact]
    public void The_silent_phase_moves_nothing_but_the_second_moment()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var start = TestData.Copies(parameters);
        using var optimizer = new ScheduleFreeRAdam(parameters, lr: Lr, beta2: Beta2, weightDecay: WeightDecay);
        for (int t = 1; t <= 4; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(start[k], parameters[k]), $"tensor {k} moved");
            Assert.True(TestData.Identical(start[k], optimizer.StateOf(parameters[k]).Z), $"z of tensor {k} moved");
            Assert.True(optimizer.StateOf(parameters[k]).V.abs().sum().item<float>() > 0, "v did not accumulate");
        }
        TestData.SetGradients(parameters, 5);
        optimizer.step();
        Assert.False(TestData.Identical(start[0], parameters[0]), "the first rectified step did not move");
    }
}
