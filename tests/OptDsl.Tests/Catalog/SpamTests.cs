using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// SPAM against the authors' SPAM.py (dense parameters) written out element by element in float64, with its own
/// bookkeeping — a global step count, a warmup counter that starts past the warmup and is set to 0 at the end of the
/// step before each reset, the cosine of <c>CosineAnnealingLR</c> in closed form — over 30 steps with a reset every 10,
/// so three resets, their warmups and the clip delay after each fall inside, and a threshold low enough that TestData's
/// large gradients of step 13 are clipped.
/// </summary>
public class SpamTests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-6, Wd = 0.1, Threshold = 50;
    const int DeltaT = 10, Warmup = 4, ClipDelay = 3, Steps = 30;

    /// <summary>CosineDecay(0.99, warmup).get_dr(step): CosineAnnealingLR over warmup + 1 steps from 0.99 to 0, 0 from step warmup on.</summary>
    static double DeathRate(int step) => step >= Warmup ? 0 : 0.99 * (1 + Math.Cos(Math.PI * step / (Warmup + 1))) / 2;

    static (double[][] P, int Clipped, int Elements) Reference()
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        int totalStep = 0, currentStep = Warmup + 1, clipped = 0, elements = 0;
        for (int s = 1; s <= Steps; s++)
        {
            double scale = 1 - DeathRate(currentStep);
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(s, k, ScalarType.Float64).flatten().data<double>().ToArray();
                if ((totalStep + 1) % DeltaT == 0)
                {
                    m[k] = new double[g.Length];
                    v[k] = new double[g.Length];
                }
                int step = totalStep + 1; // each parameter's step count equals the global one here
                if (step >= ClipDelay && step % DeltaT >= ClipDelay)
                    for (int i = 0; i < g.Length; i++)
                    {
                        elements++;
                        if (g[i] * g[i] > Threshold * v[k][i])
                        {
                            clipped++;
                            g[i] = Math.Sign(g[i]) * Math.Sqrt(v[k][i] * Threshold);
                        }
                    }
                double stepSize = Lr * Math.Sqrt(1 - Math.Pow(Beta2, step)) / (1 - Math.Pow(Beta1, step));
                for (int i = 0; i < g.Length; i++)
                {
                    m[k][i] = m[k][i] * Beta1 + (1 - Beta1) * g[i];
                    v[k][i] = v[k][i] * Beta2 + (1 - Beta2) * g[i] * g[i];
                    p[k][i] -= stepSize * scale * m[k][i] / (Math.Sqrt(v[k][i]) + Eps);
                    p[k][i] -= Lr * Wd * p[k][i];
                }
            }
            totalStep++;
            currentStep++;
            if (totalStep != 0 && (totalStep + 1) % DeltaT == 0) currentStep = 0;
        }
        return (p, clipped, elements);
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: a step's rounding (6e-8 of the weights) over 30 steps of at most 0.01; the clip is continuous where it
    // starts, so rounding cannot make it jump; 2.3e-7 measured, 2e-6 bounds it.
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-6)]
    public void Follows_the_authors_step_through_three_resets_over_30_steps(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var (expected, clipped, elements) = Reference();
        Assert.InRange(clipped, 1, elements - 1);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new Spam(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: Wd, threshold: Threshold,
            deltaT: DeltaT, warmupSteps: Warmup, clipDelay: ClipDelay) { Backend = backend };
        TestData.Run(parameters, optimizer, Steps);
        if (backend == UpdateBackend.Fused) Assert.StartsWith("CPU:", optimizer.FusedStatus);
        TestData.AssertClose(parameters, expected, tolerance);
    }

    [Fact]
    public void A_reset_step_moves_a_hundredth_of_a_fresh_Adam_step()
    {
        // At a reset the moments hold only this gradient: m/(√v + ε) ≈ sign(g)·(1 − β₁)/√(1 − β₂), scaled by 0.01.
        var p = new TorchSharp.Modules.Parameter(torch.zeros(3, ScalarType.Float64));
        using var optimizer = new Spam(new[] { p }, lr: 0.1, beta1: Beta1, beta2: Beta2, eps: 1e-12, threshold: 0, deltaT: 2, warmupSteps: 3);
        p.grad = torch.tensor(new[] { 1.0, -2.0, 0.5 });
        optimizer.step();
        var before = p.detach().clone();
        p.grad = torch.tensor(new[] { 4.0, 3.0, -1.0 });
        optimizer.step();
        double stepSize = 0.1 * Math.Sqrt(1 - Beta2 * Beta2) / (1 - Beta1 * Beta1);
        var expected = new[] { 4.0, 3.0, -1.0 }.Select(g => -0.01 * stepSize * Math.Sign(g) * (1 - Beta1) / Math.Sqrt(1 - Beta2)).ToArray();
        var moved = (p - before).data<double>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], moved[i], 12);
    }
}
