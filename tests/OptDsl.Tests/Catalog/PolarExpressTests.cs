using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Polar Express (Amsel, Persson, Musco and Gower, 2025) against the paper's Algorithm 1, transcribed here with its
/// coefficient table in float64, and what the method is for: singular values nearer 1 than Muon's fixed quintic gives
/// in as many iterations.
/// </summary>
public class PolarExpressTests
{
    /// <summary>The paper's eight polynomials, (a, b, c) of ax + bx³ + cx⁵, before the safety factor.</summary>
    static readonly double[][] Table =
    {
        new[] { 8.28721201814563, -23.595886519098837, 17.300387312530933 },
        new[] { 4.107059111542203, -2.9478499167379106, 0.5448431082926601 },
        new[] { 3.9486908534822946, -2.908902115962949, 0.5518191394370137 },
        new[] { 3.3184196573706015, -2.488488024314874, 0.51004894012372 },
        new[] { 2.300652019954817, -1.6689039845747493, 0.4188073119525673 },
        new[] { 1.891301407787398, -1.2679958271945868, 0.37680408948524835 },
        new[] { 1.8750014808534479, -1.2500016453999487, 0.3750001645474248 },
        new[] { 1.875, -1.25, 0.375 },
    };

    /// <summary>
    /// Algorithm 1 in float64 on one matrix: transposed if tall, X / (1.01‖X‖_F + 1e-7), then for each iteration
    /// A = XXᵀ, X ← aX + (bA + cA²)X with the table's row (every row but the last divided by 1.01, 1.01³, 1.01⁵; the
    /// last repeated past the table).
    /// </summary>
    internal static Tensor Algorithm1(Tensor g, int steps)
    {
        using var kept = KeptScalars.Rent();
        bool tall = g.shape[0] > g.shape[1];
        var x = tall ? g.t() : g;
        x = x / x.Squared().sum().sqrt().mul(kept[1.01]).add(kept[1e-7], ScalarCalls.One);
        for (int i = 0; i < steps; i++)
        {
            var row = Table[Math.Min(i, Table.Length - 1)];
            double safety = i < Table.Length - 1 ? 1.01 : 1;
            double a = row[0] / safety, b = row[1] / Math.Pow(safety, 3), c = row[2] / Math.Pow(safety, 5);
            var gram = x.mm(x.t());
            var poly = gram.mul(kept[b]).Plus(gram.mm(gram).mul(kept[c]));
            x = x.mul(kept[a]).Plus(poly.mm(x));
        }
        return tall ? x.t() : x;
    }

    [Theory]
    [InlineData(8, 20, 5)]
    [InlineData(30, 7, 5)]  // tall
    [InlineData(12, 12, 3)]
    [InlineData(6, 40, 10)] // past the table
    public void Orthogonalize_follows_Algorithm_1_in_float64(int rows, int columns, int steps)
    {
        var x = TestData.Normal(new long[] { rows, columns }, (ulong)(rows * 100 + columns));
        var expected = Algorithm1(x, steps);
        var actual = MatrixMath.Orthogonalize(x, steps, 0, 0, 0, Coefficients.PolarExpress);
        double error = (actual - expected).abs().max().item<double>();
        // The same products in another grouping; the first polynomial's coefficients (up to 23) amplify rounding.
        Assert.True(error < 1e-12, $"off by {error:E2}");
        // Muon's constants play no part: the schedule replaces them.
        Assert.True(TestData.Identical(actual, MatrixMath.Orthogonalize(x, steps, 3.4445, -4.7750, 2.0315, Coefficients.PolarExpress)));
    }

    [Fact]
    public void It_brings_singular_values_nearer_one_than_the_fixed_quintic_and_converges()
    {
        // Singular values from 1 down to 0.001 (the interval the polynomials are optimal on), a 32 x 96 matrix.
        var (u, _) = torch.linalg.qr(TestData.Normal(new long[] { 32, 32 }, 7));
        var (v, _) = torch.linalg.qr(TestData.Normal(new long[] { 96, 32 }, 8));
        var s = torch.tensor(Enumerable.Range(0, 32).Select(i => Math.Pow(1e-3, i / 31.0)).ToArray());
        var x = u.matmul(torch.diag(s)).matmul(v.mT);
        double Worst(Tensor o) => torch.linalg.svdvals(o).sub(ScalarCalls.One).abs().max().item<double>();
        double Quintic(int steps) => Worst(MatrixMath.Orthogonalize(x, steps, 3.4445, -4.7750, 2.0315));
        double Polar(int steps) => Worst(MatrixMath.Orthogonalize(x, steps, 0, 0, 0, Coefficients.PolarExpress));
        // Measured here, the largest |σ - 1|: Muon's quintic 0.71 after 5 iterations and 0.32 after 8 (it does not
        // converge); Polar Express 0.45, 0.16, 0.0098 and 2.3e-6 after 5 to 8. (Scaled by 1.01‖X‖_F, the smallest
        // singular value starts at 6e-4, below the interval the polynomials were fitted on, so five do not suffice.)
        Assert.True(Polar(5) < Quintic(5), $"Polar Express after 5: {Polar(5):F4}, the quintic: {Quintic(5):F4}");
        Assert.True(Polar(7) < 0.02, $"Polar Express after 7: {Polar(7):E2}");
        Assert.True(Polar(8) < 1e-5, $"Polar Express after 8: {Polar(8):E2}");
        Assert.True(Quintic(8) > 0.2, $"the quintic after 8: {Quintic(8):E2}");
    }

    [Fact]
    public void In_bfloat16_the_Gram_form_follows_the_float64_iteration()
    {
        var x = TestData.Normal(new long[] { 3, 16, 64 }, 21);
        var expected = torch.stack(Enumerable.Range(0, 3).Select(i => Algorithm1(x[i], 5)).ToArray());
        double Error(Tensor t) => ((t.to(ScalarType.Float64) - expected).Squared().sum().sqrt() / expected.Squared().sum().sqrt()).item<double>();
        var bf16 = x.to(ScalarType.BFloat16);
        double gram = Error(MatrixMath.Orthogonalize(bf16, 5, 0, 0, 0, Coefficients.PolarExpress));
        double plain = Error(MatrixMath.Iterate(MatrixMath.UnitNorm(bf16, 1.01), 5, 0, 0, 0, Coefficients.PolarExpress));
        // Measured here (CPU bf16): on X 0.016, the Gram form 0.052. The Gram form rounds P = aI + bG + cG² to bf16,
        // and the first polynomial's a = 8.2 makes that rounding larger than Muon's a = 3.4 does (its ratio on these
        // matrices: 1.9x to 2.6x); on 32 x 128 and 64 x 192 matrices the ratio was 0.9x and 1.7x. 4x bounds it.
        Assert.True(gram < 4 * plain, $"Gram form off by {gram:F4}, on X by {plain:F4}");
        Assert.True(gram < 0.08, $"Gram form off by {gram:F4}");
    }

    [Fact]
    public void The_coefficients_follow_the_table_and_a_wrong_schedule_is_refused()
    {
        Assert.Equal((3.4445, -4.7750, 2.0315), Coefficients.At(Coefficients.Constant, 3, 3.4445, -4.7750, 2.0315));
        var (a, b, c) = Coefficients.At(Coefficients.PolarExpress, 0, 0, 0, 0);
        Assert.Equal(8.28721201814563 / 1.01, a, 12);
        Assert.Equal(-23.595886519098837 / Math.Pow(1.01, 3), b, 12);
        Assert.Equal(17.300387312530933 / Math.Pow(1.01, 5), c, 12);
        Assert.Equal((1.875, -1.25, 0.375), Coefficients.At(Coefficients.PolarExpress, 7, 0, 0, 0));
        Assert.Equal((1.875, -1.25, 0.375), Coefficients.At(Coefficients.PolarExpress, 40, 0, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MatrixMath.Orthogonalize(torch.ones(2, 3), 5, 0, 0, 0, 2));
    }
}
