using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Adam-mini against its update written out in float64 over 30 steps: one second moment per row of each tensor's matrix
/// view (7×13; 4×3×5 as 4×15), one per element of a vector (33, 1), AdamW's corrections and decay.
/// </summary>
public class AdamMiniTests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.95, Eps = 1e-8, Wd = 0.1;

    static double[][] Reference(int steps)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var rows = TestData.Shapes.Select(s => s.Length == 1 ? (int)s[0] : (int)s[0]).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = rows.Select(r => new double[r]).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                int columns = g.Length / rows[k];
                for (int r = 0; r < rows[k]; r++)
                {
                    double mean = Enumerable.Range(r * columns, columns).Average(i => g[i] * g[i]);
                    v[k][r] = Beta2 * v[k][r] + (1 - Beta2) * mean;
                    for (int i = r * columns; i < (r + 1) * columns; i++)
                    {
                        p[k][i] *= 1 - Lr * Wd;
                        m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * g[i];
                        double denom = Math.Sqrt(v[k][r]) / Math.Sqrt(1 - Math.Pow(Beta2, t)) + Eps;
                        p[k][i] -= Lr / (1 - Math.Pow(Beta1, t)) * m[k][i] / denom;
                    }
                }
            }
        return p;
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    // float32: a step's rounding (1e-7 of the weights) over 30 steps, the row means summed in another order; 2e-5 bounds it.
    [InlineData(ScalarType.Float32, 2e-5)]
    public void Follows_the_update_with_one_second_moment_per_row_over_30_steps(ScalarType dtype, double tolerance)
    {
        var expected = Reference(30);
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new AdamMini(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: Wd);
        TestData.Run(parameters, optimizer, 30);
        TestData.AssertClose(parameters, expected, tolerance);
        // The second moment takes a row's worth of memory: 7 for the 7×13 matrix, 4 for the 4×3×5 tensor.
        Assert.Equal(new long[] { 7, 1 }, optimizer.StateOf(parameters[0]).V.shape);
        Assert.Equal(new long[] { 4, 1, 1 }, optimizer.StateOf(parameters[3]).V.shape);
    }
}
