using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// MARS-Lion against Algorithm 3 of the paper (the authors' mars.py, <c>mars_type="mars-lion"</c>, approximate form)
/// written out element by element in float64: the corrected gradient, its per-tensor norm clip, one momentum, its sign
/// as the step, over 30 steps whose gradients jump in scale so the clip acts on some steps and not on others.
/// </summary>
public class MarsLionTests
{
    const double Lr = 0.01, Beta1 = 0.9, Gamma = 0.05, MaxNorm = 1, Wd = 0.1;

    /// <summary>The weights after <paramref name="steps"/>, how many tensor steps were clipped, and the smallest |m| that was not 0.</summary>
    static (double[][] P, int Clipped, double SmallestMomentum) Reference(int steps)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var previous = p.Select(x => new double[x.Length]).ToArray();
        int clipped = 0;
        double smallest = double.PositiveInfinity;
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                var c = MarsReference.Corrected(g, previous[k], Gamma, Beta1, MaxNorm, ref clipped);
                for (int i = 0; i < c.Length; i++)
                {
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * c[i];
                    if (m[k][i] != 0) smallest = Math.Min(smallest, Math.Abs(m[k][i]));
                    p[k][i] -= Lr * (Math.Sign(m[k][i]) + Wd * p[k][i]);
                }
                previous[k] = g;
            }
        return (p, clipped, smallest);
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: no momentum comes near enough to 0 for its sign to differ (asserted below: the smallest is 1.3e-6, where
    // float32's error in m, about (1 − β₁)·6e-8 a step decaying by β₁, stays under 1e-7), so only the weights' own
    // rounding (6e-8 a step, 30 steps) remains; 1e-6 bounds it.
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 1e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 1e-6)]
    public void Follows_the_authors_update_over_30_steps(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var (expected, clipped, smallest) = Reference(30);
        Assert.InRange(clipped, 1, 30 * expected.Length - 1);
        Assert.True(smallest > 1e-6, $"a momentum of {smallest:E2} could take another sign in float32");
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new MarsLion(parameters, lr: Lr, beta1: Beta1, gamma: Gamma, maxNorm: MaxNorm, weightDecay: Wd)
            { Backend = backend };
        TestData.Run(parameters, optimizer, 30);
        if (backend == UpdateBackend.Fused) Assert.Contains("2 phases", optimizer.FusedStatus);
        TestData.AssertClose(parameters, expected, tolerance);
    }

    [Fact]
    public void Every_element_moves_by_the_learning_rate_whatever_the_gradients_scale()
    {
        var p = new TorchSharp.Modules.Parameter(torch.zeros(4, ScalarType.Float32));
        using var optimizer = new MarsLion(new[] { p }, lr: 0.1);
        p.grad = torch.tensor(new[] { 1e-6f, -3f, 250f, -1e-3f });
        optimizer.step();
        Assert.Equal(new[] { -0.1f, 0.1f, -0.1f, 0.1f }, p.data<float>().ToArray());
    }
}
