using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Adam-atan2 against its equations written out element by element in float64 with <see cref="Math.Atan2"/> (not
/// through any tensor operation), and the two properties it exists for: no ε, so a gradient scaled by 1000 takes the
/// same steps, and a zero second moment gives a zero step.
/// </summary>
public class AdamAtan2Tests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, A = 1.27, B = 1.5, Wd = 0.1;

    static double[][] Reference(int steps, double gradientScale = 1)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => new double[x.Length]).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                for (int i = 0; i < g.Length; i++)
                {
                    double gi = g[i] * gradientScale;
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * gi;
                    v[k][i] = Beta2 * v[k][i] + (1 - Beta2) * gi * gi;
                    double mHat = m[k][i] / (1 - Math.Pow(Beta1, t)), vHat = v[k][i] / (1 - Math.Pow(Beta2, t));
                    p[k][i] = p[k][i] * (1 - Lr * Wd) - Lr * A * Math.Atan2(mHat, B * Math.Sqrt(vHat));
                }
            }
        return p;
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: the fused CPU path (MathF.Atan2 per lane) rounds each step; over 30 steps a few 1e-7 of the weights.
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-6)]
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-6)]
    public void Follows_its_equations_over_30_steps(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var expected = Reference(30);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new AdamAtan2(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, a: A, b: B, weightDecay: Wd) { Backend = backend };
        for (int t = 1; t <= 30; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        if (backend == UpdateBackend.Fused) Assert.StartsWith($"CPU: {System.Numerics.Vector<float>.Count}-lane vectors", optimizer.FusedStatus);
        for (int k = 0; k < parameters.Length; k++)
        {
            var ours = parameters[k].to(ScalarType.Float64).flatten().data<double>().ToArray();
            double scale = expected[k].Max(Math.Abs);
            double error = ours.Zip(expected[k], (x, y) => Math.Abs(x - y)).Max();
            Assert.True(error <= tolerance * Math.Max(1, scale), $"tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void Scaling_the_gradient_changes_nothing_and_a_zero_gradient_does_not_move()
    {
        var small = Reference(10);
        var large = Reference(10, gradientScale: 1000);
        for (int k = 0; k < small.Length; k++)
            for (int i = 0; i < small[k].Length; i++) Assert.Equal(small[k][i], large[k][i], 9);

        var p = new TorchSharp.Modules.Parameter(torch.ones(3, ScalarType.Float32));
        using var optimizer = new AdamAtan2(new[] { p }, lr: 0.1);
        p.grad = torch.zeros(3, ScalarType.Float32);
        optimizer.step();
        Assert.Equal(new[] { 1f, 1f, 1f }, p.data<float>().ToArray());
    }
}
