using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// NAG-GS against Algorithm 1 of the paper written out in float64 (γ updated each step), and its constant-γ variant
/// against NAG4 in the other algebraic form the authors' code uses (<c>v ← (v + α/γ (μx − g)) / (1 + αμ/γ)</c>,
/// <c>x ← (x + αv) / (1 + α)</c>); 12 steps on the four test tensors.
/// </summary>
public class NagGsTests
{
    const int Steps = 12;

    static Tensor[] Reference(double alpha, double mu, double gamma0, bool constant)
    {
        using var kept = KeptScalars.Rent();
        var x = TestData.Parameters(ScalarType.Float64).Select(p => p.detach().clone()).ToArray();
        var v = x.Select(p => p.clone()).ToArray();
        double gamma = gamma0;
        for (int t = 1; t <= Steps; t++)
        {
            for (int k = 0; k < x.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64);
                if (constant)
                {
                    v[k] = v[k].Plus((x[k].mul(kept[mu]) - g).mul(kept[alpha / gamma])).div(kept[(1 + alpha * mu / gamma)]);
                    x[k] = x[k].Plus(v[k].mul(kept[alpha])).div(kept[(1 + alpha)]);
                }
                else
                {
                    double b = alpha * mu / (alpha * mu + gamma);
                    v[k] = v[k].mul(kept[(1 - b)]).Plus((x[k] - g.div(kept[mu])).mul(kept[b]));
                    double a = alpha / (alpha + 1);
                    x[k] = x[k].mul(kept[(1 - a)]).Plus(v[k].mul(kept[a]));
                }
            }
            if (!constant) gamma = (alpha * mu + gamma) / (1 + alpha);
        }
        return x;
    }

    /// <summary>float64: 1e-12 relative (another order of the same operations); float32: 12 steps of 1e-7 rounding, 1e-5.</summary>
    [Theory]
    [InlineData(0.1, 1.0, 2.0, false)]
    [InlineData(0.3, 0.5, 2.0, false)]
    [InlineData(0.1, 1.0, 1.5, true)]
    public void Follows_the_papers_algorithm(double alpha, double mu, double gamma, bool constant)
    {
        var expected = Reference(alpha, mu, gamma, constant);
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 1e-5) })
        {
            var parameters = TestData.Parameters(dtype);
            using var optimizer = new NagGs(parameters, lr: alpha, mu: mu, gamma: gamma, constantGamma: constant);
            for (int t = 1; t <= Steps; t++)
            {
                TestData.SetGradients(parameters, t);
                optimizer.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                var error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                var scale = dtype == ScalarType.Float64 ? Math.Max(1, expected[k].abs().max().item<double>()) : 1;
                Assert.True(error <= tolerance * scale, $"{dtype} tensor {k}: off by {error:E2}");
            }
            double gammaNow = optimizer.StateOf(parameters[0]).GammaNow;
            if (constant) Assert.Equal(gamma, gammaNow, 12);
            else Assert.NotEqual(gamma, gammaNow);
        }
    }
}
