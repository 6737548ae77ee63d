using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// MARS-AdamW against the authors' approximate update written out element by element in float64 (the corrected
/// gradient, its per-tensor norm clip, AdamW with both bias corrections in the denominator), over 30 steps whose
/// gradients jump in scale (TestData's steps 7–9 and 13), so the clip acts on some steps and not on others.
/// </summary>
public class MarsAdamWTests
{
    const double Lr = 0.01, Beta1 = 0.95, Beta2 = 0.99, Eps = 1e-8, Gamma = 0.025, MaxNorm = 1, Wd = 0.1;

    static (double[][] P, int Clipped) Reference(int steps)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        var previous = p.Select(x => new double[x.Length]).ToArray();
        int clipped = 0;
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                var c = MarsReference.Corrected(g, previous[k], Gamma, Beta1, MaxNorm, ref clipped);
                for (int i = 0; i < c.Length; i++)
                {
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * c[i];
                    v[k][i] = Beta2 * v[k][i] + (1 - Beta2) * c[i] * c[i];
                    double denom = (Math.Sqrt(v[k][i]) / Math.Sqrt(1 - Math.Pow(Beta2, t)) + Eps) * (1 - Math.Pow(Beta1, t));
                    p[k][i] -= Lr * (Wd * p[k][i] + m[k][i] / denom);
                }
                previous[k] = g;
            }
        return (p, clipped);
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: a step's rounding (1e-7 of the weights) over 30 steps, through the norm as well; 2e-5 bounds it.
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-5)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-5)]
    public void Follows_the_authors_update_over_30_steps(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var (expected, clipped) = Reference(30);
        Assert.InRange(clipped, 1, 30 * expected.Length - 1);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new MarsAdamW(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, gamma: Gamma, maxNorm: MaxNorm, weightDecay: Wd)
            { Backend = backend };
        TestData.Run(parameters, optimizer, 30);
        if (backend == UpdateBackend.Fused) Assert.Contains("2 phases", optimizer.FusedStatus);
        TestData.AssertClose(parameters, expected, tolerance);
    }

    [Fact]
    public void A_zero_gradient_leaves_the_parameter_where_decay_takes_it()
    {
        var p = new TorchSharp.Modules.Parameter(torch.ones(4, ScalarType.Float32));
        using var optimizer = new MarsAdamW(new[] { p }, lr: 0.1, weightDecay: 0.5);
        p.grad = torch.zeros(4, ScalarType.Float32);
        optimizer.step();
        Assert.All(p.data<float>().ToArray(), x => Assert.Equal(1 - 0.1f * 0.5f, x, 6));
    }
}
