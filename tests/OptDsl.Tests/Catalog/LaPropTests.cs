using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// LaProp against the authors' laprop.py written out element by element in float64, over 30 steps of a learning rate
/// that starts at zero, warms up and decays (so the learning rate inside the momentum and the averaged first correction
/// matter), and, at a constant learning rate, against the paper's form: Adam's bias-corrected momentum of g/(√v̂ + ε).
/// </summary>
public class LaPropTests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-15, Wd = 1e-3;

    /// <summary>Zero at the first step, up to <see cref="Lr"/> by the fifth, then down to 0.4·Lr at the 30th.</summary>
    static double ScheduledLr(long step) => step < 4 ? Lr * step / 4 : Lr * (1 - 0.6 * (step - 4) / 25.0);

    /// <summary>laprop.py's step: the learning rate in the momentum, its β₁-average as the first correction, decay after the step.</summary>
    static double[][] Authors(int steps, Func<long, double> lrAt)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        var lrAverage = new double[p.Length];
        var secondCorrection = new double[p.Length];
        for (int t = 1; t <= steps; t++)
        {
            double lr = lrAt(t - 1);
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                lrAverage[k] = lrAverage[k] * Beta1 + (1 - Beta1) * lr;
                secondCorrection[k] = secondCorrection[k] * Beta2 + (1 - Beta2);
                double stepSize = lr != 0 ? 1 / (lrAverage[k] / lr) : 1;
                for (int i = 0; i < g.Length; i++)
                {
                    v[k][i] = v[k][i] * Beta2 + (1 - Beta2) * g[i] * g[i];
                    double normalized = g[i] / (Math.Sqrt(v[k][i] / secondCorrection[k]) + Eps);
                    m[k][i] = m[k][i] * Beta1 + (1 - Beta1) * lr * normalized;
                    p[k][i] -= stepSize * m[k][i];
                    p[k][i] -= Wd * p[k][i];
                }
            }
        }
        return p;
    }

    /// <summary>
    /// The paper's Algorithm 1: m of the normalised gradient, m̂ = m/(1 − β₁ᵗ), p ← p − lr·m̂; with a schedule, the current
    /// rate scales the step as in Adam.
    /// </summary>
    static double[][] Paper(int steps, Func<long, double> lrAt)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                double lr = lrAt(t - 1);
                for (int i = 0; i < g.Length; i++)
                {
                    v[k][i] = Beta2 * v[k][i] + (1 - Beta2) * g[i] * g[i];
                    double vHat = v[k][i] / (1 - Math.Pow(Beta2, t));
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * g[i] / (Math.Sqrt(vHat) + Eps);
                    p[k][i] = (p[k][i] - lr * m[k][i] / (1 - Math.Pow(Beta1, t))) * (1 - Wd);
                }
            }
        return p;
    }

    static TorchSharp.Modules.Parameter[] Run(ScalarType dtype, UpdateBackend backend, Schedule? lr)
    {
        var parameters = TestData.Parameters(dtype);
        var optimizer = new LaProp(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: Wd) { Backend = backend };
        using (optimizer)
        {
            if (lr is not null) optimizer.Schedule("lr", lr);
            for (int t = 1; t <= 30; t++)
            {
                TestData.SetGradients(parameters, t);
                optimizer.step();
            }
            if (backend == UpdateBackend.Fused) Assert.StartsWith("CPU:", optimizer.FusedStatus);
        }
        return parameters;
    }

    static void AssertClose(TorchSharp.Modules.Parameter[] parameters, double[][] expected, double tolerance)
    {
        TestData.AssertClose(parameters, expected, tolerance);
    }

    static double LargestDifference(double[][] a, double[][] b) => a.Zip(b, (x, y) => x.Zip(y, (u, w) => Math.Abs(u - w)).Max()).Max();

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: a step's rounding (6e-8 of the weights) over 30 steps of 0.01 or less; 3e-7 measured, 2e-6 bounds it.
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-6)]
    public void Follows_the_authors_step_over_30_steps_of_a_scheduled_learning_rate(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var expected = Authors(30, ScheduledLr);
        // The schedule tells the authors' form from the paper's with the rate scaling the step, far beyond the tolerance.
        Assert.True(LargestDifference(expected, Paper(30, ScheduledLr)) > 1e-3);
        AssertClose(Run(dtype, backend, Schedules.Of(ScheduledLr)), expected, tolerance);
    }

    [Fact]
    public void At_a_constant_learning_rate_is_the_papers_bias_corrected_momentum_of_normalised_gradients() =>
        AssertClose(Run(ScalarType.Float64, UpdateBackend.Portable, null), Paper(30, _ => Lr), 1e-12);
}
