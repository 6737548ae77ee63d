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
/// Schedule-free SGD against the paper's recurrences (Defazio et al. 2024, Alg. 1 with SGD's direction), written out
/// over plain tensors in float64: the iterate z, the average x, gradients at y = (1 - momentum) z + momentum x. The
/// optimizer keeps y and z, so its parameters must equal that y and its swapped-in average that x.
/// </summary>
public class ScheduleFreeSgdTests
{
    const double Lr = 0.1, Momentum = 0.9, WeightDecay = 0.01;
    const int Warmup = 4;

    static (Tensor[] Y, Tensor[] X) Reference(int steps)
    {
        using var kept = KeptScalars.Rent();
        var start = TestData.Parameters(ScalarType.Float64);
        var z = start.Select(p => p.detach().clone()).ToArray();
        var x = start.Select(p => p.detach().clone()).ToArray();
        double lrMax = 0, weightSum = 0;
        for (int t = 1; t <= steps; t++)
        {
            double gamma = Lr * Math.Min(1.0, (double)t / Warmup);
            lrMax = Math.Max(lrMax, gamma);
            double weight = lrMax * lrMax;
            weightSum += weight;
            double c = weight / weightSum;
            for (int k = 0; k < start.Length; k++)
            {
                var y = z[k].mul(kept[1 - Momentum]).Plus(x[k].mul(kept[Momentum]));
                var direction = TestData.Gradient(t, k, ScalarType.Float64).Plus(y.mul(kept[WeightDecay]));
                z[k] = z[k] - direction.mul(kept[gamma]);
                x[k] = x[k].mul(kept[1 - c]).Plus(z[k].mul(kept[c]));
            }
        }
        return (z.Zip(x, (zk, xk) => zk.mul(kept[1 - Momentum]).Plus(xk.mul(kept[Momentum]))).ToArray(), x);
    }

    /// <summary>float64: the two forms differ only in rounding; float32: a step's rounding (1e-7) over 20 steps stays within 2e-5.</summary>
    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-5)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-5)]
    public void Parameters_are_the_papers_y_and_the_swapped_in_average_its_x(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        using var kept = KeptScalars.Rent();
        var (y, x) = Reference(20);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new ScheduleFreeSgd(parameters, lr: Lr, momentum: Momentum, weightDecay: WeightDecay, warmupSteps: Warmup) { Backend = backend };
        for (int t = 1; t <= 20; t++)
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
}
