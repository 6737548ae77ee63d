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
/// Stable-SPAM against the authors' stablespam.py written out element by element in float64 (AdaClip on the largest
/// magnitude's EMA, AdaGN on the norm's two EMAs, AdamW, one step count for every bias correction that restarts at each
/// reset), with the moments zero in the reset step itself (see the declaration), over 30 steps with a reset every 10,
/// in which TestData's large gradients of step 13 are clipped.
/// </summary>
public class StableSpamTests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-8, Wd = 0.1, Gamma1 = 0.7, Gamma2 = 0.9, Gamma3 = 0.99;
    const int DeltaT = 10, Steps = 30;

    static (double[][] P, int Clipped) Reference()
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        var count = new int[p.Length];
        var maxAverage = new double[p.Length];
        var normAverage = new double[p.Length];
        var squaredNormAverage = new double[p.Length];
        int clipped = 0;
        for (int t = 1; t <= Steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                for (int i = 0; i < g.Length; i++) p[k][i] *= 1 - Lr * Wd;
                count[k]++;
                double largest = g.Max(Math.Abs);
                maxAverage[k] = Gamma3 * maxAverage[k] + (1 - Gamma3) * largest;
                double limit = maxAverage[k] / (1 - Math.Pow(Gamma3, count[k]));
                for (int i = 0; i < g.Length; i++)
                    if (Math.Abs(g[i]) > limit)
                    {
                        clipped++;
                        g[i] = g[i] / largest * limit;
                    }
                double norm = Math.Sqrt(g.Sum(x => x * x));
                normAverage[k] = Gamma1 * normAverage[k] + (1 - Gamma1) * norm;
                squaredNormAverage[k] = Gamma2 * squaredNormAverage[k] + (1 - Gamma2) * norm * norm;
                double target = normAverage[k] / (1 - Math.Pow(Gamma1, count[k]))
                    / (Math.Sqrt(squaredNormAverage[k] / (1 - Math.Pow(Gamma2, count[k]))) + Eps);
                if (norm > 0)
                    for (int i = 0; i < g.Length; i++) g[i] = g[i] / norm * target;
                if (t % DeltaT == 0)
                {
                    count[k] = 1;
                    m[k] = new double[g.Length];
                    v[k] = new double[g.Length];
                }
                double stepSize = Lr / (1 - Math.Pow(Beta1, count[k]));
                double correction2 = Math.Sqrt(1 - Math.Pow(Beta2, count[k]));
                for (int i = 0; i < g.Length; i++)
                {
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * g[i];
                    v[k][i] = Beta2 * v[k][i] + (1 - Beta2) * g[i] * g[i];
                    p[k][i] -= stepSize * m[k][i] / (Math.Sqrt(v[k][i]) / correction2 + Eps);
                }
            }
        return (p, clipped);
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    // float32: a step's rounding (6e-8 of the weights) over 30 steps of at most 0.01, through the norms and the AdaGN
    // ratio, whose rounding moves every element of a tensor together; 7.5e-7 measured, 5e-6 bounds it.
    [InlineData(ScalarType.Float32, 5e-6)]
    public void Follows_the_authors_step_through_three_resets_over_30_steps(ScalarType dtype, double tolerance)
    {
        var (expected, clipped) = Reference();
        // Some elements clipped (161 of 30 × 138 here), not all.
        Assert.InRange(clipped, 1, Steps * expected.Sum(x => x.Length) - 1);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new StableSpam(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: Wd,
            gamma1: Gamma1, gamma2: Gamma2, gamma3: Gamma3, deltaT: DeltaT);
        TestData.Run(parameters, optimizer, Steps);
        TestData.AssertClose(parameters, expected, tolerance);
    }

    [Fact]
    public void A_gradient_a_thousand_times_larger_takes_the_same_steps()
    {
        // AdaGN replaces each gradient's norm with μ̂/(√ν̂ + ε) of the norms so far, and AdaClip's threshold scales with
        // them, so a constant factor on every gradient changes nothing but rounding (ε aside).
        TorchSharp.Modules.Parameter[] Run(double scale)
        {
            using var kept = KeptScalars.Rent();
            var ps = TestData.Parameters(ScalarType.Float64);
            using var optimizer = new StableSpam(ps, lr: Lr, eps: 1e-30, deltaT: 5);
            for (int t = 1; t <= 12; t++)
            {
                using (torch.no_grad())
                    for (int k = 0; k < ps.Length; k++) ps[k].grad = TestData.Gradient(t, k, ScalarType.Float64).mul(kept[scale]);
                optimizer.step();
            }
            return ps;
        }
        var a = Run(1);
        var b = Run(1000);
        for (int k = 0; k < a.Length; k++)
            Assert.True((a[k] - b[k]).abs().max().item<double>() < 1e-12, $"tensor {k} differs");
    }
}
