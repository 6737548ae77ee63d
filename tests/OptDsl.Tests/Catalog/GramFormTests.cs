using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Newton–Schulz on the Gram matrix (<see cref="GramForm"/>), which CUDA runs for oblong matrices in bfloat16: the same
/// polynomial as iterating on X, and its fresh starts, which keep bfloat16's rounding from growing.
/// </summary>
public class GramFormTests
{
    const double A = 3.4445, B = -4.7750, C = 2.0315;

    static Tensor Unit(Tensor x) => x / x.Squared().sum(new long[] { -2, -1 }, keepdim: true).sqrt();

    [Theory]
    [InlineData(A, B, C)]
    [InlineData(1.5, -0.5, 0.0)] // the cubic iteration
    public void In_float64_it_is_the_iteration_on_X_for_any_number_of_steps(double a, double b, double c)
    {
        // A batch of three 6 x 20 matrices and one 5 x 9: the two forms apply the same polynomials, so they differ
        // only by float64 rounding, which the iteration multiplies by at most about a^steps (a few thousand).
        foreach (var shape in new[] { new long[] { 3, 6, 20 }, new long[] { 5, 9 } })
        {
            var x = Unit(TestData.Normal(shape, 11));
            for (int steps = 0; steps <= 7; steps++)
            {
                var plain = MatrixMath.Iterate(x, steps, a, b, c);
                var gram = GramForm.Iterate(x, steps, a, b, c);
                double error = (gram - plain).abs().max().item<double>();
                Assert.True(error < 1e-11, $"{string.Join("x", shape)}, {steps} steps: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void It_is_chosen_where_it_takes_fewer_multiply_adds()
    {
        // GPT-2 small's oblong matrices (768 x 2304 and 768 x 3072) save a quarter and a third of the work.
        Assert.Equal(0.74, GramForm.Cost(768, 2304, 5, C) / GramForm.PlainCost(768, 2304, 5, C), 2);
        Assert.Equal(0.67, GramForm.Cost(768, 3072, 5, C) / GramForm.PlainCost(768, 3072, 5, C), 2);
        Assert.True(GramForm.Saves(768, 3072, 5, C));
        Assert.True(GramForm.Saves(768, 2304, 5, C));
        // Square and nearly square matrices iterate on X; so does a single cubic step (the Gram form's work there is the same).
        Assert.False(GramForm.Saves(768, 768, 5, C));
        Assert.False(GramForm.Saves(768, 900, 5, C));
        Assert.False(GramForm.Saves(768, 3072, 0, C));
        Assert.False(GramForm.Saves(768, 3072, 1, 0));
        Assert.Equal(new[] { 3, 2 }, GramForm.Segments(5));
        Assert.Equal(new[] { 3, 2, 2 }, GramForm.Segments(7));
        Assert.Equal(new[] { 1 }, GramForm.Segments(1));
    }

    /// <summary>A 24 x 96 matrix whose singular values fall as 1/i² (the spectrum of a gradient's momentum is often steep).</summary>
    static Tensor IllConditioned()
    {
        var (u, _) = torch.linalg.qr(TestData.Normal(new long[] { 24, 24 }, 21));
        var (v, _) = torch.linalg.qr(TestData.Normal(new long[] { 96, 24 }, 22));
        var s = torch.tensor(Enumerable.Range(1, 24).Select(i => 1.0 / (i * i)).ToArray());
        return Unit(u.matmul(torch.diag(s)).matmul(v.mT));
    }

    [Fact]
    public void In_bfloat16_fresh_starts_keep_it_as_close_to_float64_as_iterating_on_X()
    {
        var x = IllConditioned();
        var expected = MatrixMath.Iterate(x, 5, A, B, C);
        double Error(Tensor actual) => ((actual.to(ScalarType.Float64) - expected).Squared().sum().sqrt() / expected.Squared().sum().sqrt()).item<double>();
        double Largest(Tensor actual) => torch.linalg.svdvals(actual.to(ScalarType.Float64)).max().item<double>();

        var input = x.to(ScalarType.BFloat16);
        double plain = Error(MatrixMath.Iterate(input, 5, A, B, C));
        var gram = GramForm.Iterate(input, 5, A, B, C);
        // Measured here: the iteration on X is off by 0.091 in bfloat16, the Gram form by 0.115 (1.26x; 0.97x to 1.34x on
        // the H200's 768-wide matrices), and without fresh starts by 6.6e4 (its largest singular value 3e5): the Gram
        // matrix's rounding multiplied up. 1.5x bounds the Gram form; the drift check shows the test can fail.
        var drifted = GramForm.Iterate(input, 5, A, B, C, first: 5, then: 5);
        Assert.True(Error(gram) < 1.5 * plain, $"Gram form off by {Error(gram):F3}, iteration on X by {plain:F3}");
        Assert.True(Largest(gram) < 1.25, $"largest singular value {Largest(gram):F3}");
        Assert.True(Error(drifted) > 0.5, $"without fresh starts off by only {Error(drifted):F3}: the test no longer shows the drift");
    }

    [Fact]
    public void Orthogonalize_takes_the_Gram_form_for_oblong_matrices_in_bfloat16_only()
    {
        var x = TestData.Normal(new long[] { 16, 64 }, 31);
        foreach (var type in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            // float32 and float64 keep the iteration on X (their reference tests hold to 1e-12).
            var input = x.to(type);
            Assert.True(TestData.Identical(MatrixMath.Orthogonalize(input, 5, A, B, C), MatrixMath.Iterate(MatrixMath.UnitNorm(input), 5, A, B, C)), type.ToString());
        }
        // In bfloat16 a wide and a tall oblong matrix take the Gram form (the tall one transposed, and back).
        var bf16 = x.to(ScalarType.BFloat16);
        var unit = MatrixMath.UnitNorm(bf16);
        var wide = MatrixMath.Orthogonalize(bf16, 5, A, B, C);
        Assert.True(TestData.Identical(wide, GramForm.Iterate(unit, 5, A, B, C)));
        Assert.False(TestData.Identical(wide, MatrixMath.Iterate(unit, 5, A, B, C)));
        Assert.True(TestData.Identical(MatrixMath.Orthogonalize(bf16.mT, 5, A, B, C).mT, wide));
        // A square one iterates on X.
        var square = TestData.Normal(new long[] { 16, 16 }, 32).to(ScalarType.BFloat16);
        Assert.True(TestData.Identical(MatrixMath.Orthogonalize(square, 5, A, B, C), MatrixMath.Iterate(MatrixMath.UnitNorm(square), 5, A, B, C)));
    }

    [Fact]
    public void In_float64_one_chain_for_several_shapes_is_each_shape_alone()
    {
        // Three batches with 6 rows (n = 20, 9, 6) and a lone matrix: one Gram chain of 3 + 2 + 4 + 1 matrices, then
        // Q X shape by shape. The same products per matrix, so only float64 rounding can differ.
        var xs = new[] { new long[] { 3, 6, 20 }, new long[] { 2, 6, 9 }, new long[] { 4, 6, 6 }, new long[] { 6, 30 } }
            .Select((shape, k) => Unit(TestData.Normal(shape, (ulong)(40 + k)))).ToArray();
        foreach (int steps in new[] { 1, 3, 5, 7 })
        {
            var together = GramForm.Iterate(xs, steps, A, B, C);
            for (int k = 0; k < xs.Length; k++)
            {
                Assert.Equal(xs[k].shape, together[k].shape);
                double error = (together[k] - GramForm.Iterate(xs[k], steps, A, B, C)).abs().max().item<double>();
                Assert.True(error < 1e-12, $"shape {k}, {steps} steps: off by {error:E2}");
            }
        }
        Assert.Throws<ArgumentException>(() => { GramForm.Iterate(new[] { xs[0], TestData.Normal(new long[] { 5, 20 }, 49) }, 5, A, B, C); });
    }

    [Fact]
    public void Orthogonalize_runs_the_Gram_matrices_of_every_shape_of_one_size_as_one_chain()
    {
        // GPT-2's pattern at a small size: wide (16 x 48, 16 x 64), tall (64 x 16, transposed to 16 x 64) and square
        // (16 x 16) batches share one chain; 8 x 40 has a Gram size of its own, and float32 keeps the iteration on X.
        var shapes = new[] { new long[] { 3, 16, 48 }, new long[] { 2, 16, 64 }, new long[] { 2, 64, 16 }, new long[] { 2, 16, 16 }, new long[] { 8, 40 } };
        var xs = shapes.Select((shape, k) => TestData.Normal(shape, (ulong)(50 + k)).to(ScalarType.BFloat16)).ToArray();
        var together = MatrixMath.Orthogonalize(xs, 5, A, B, C);
        for (int k = 0; k < xs.Length; k++)
        {
            Assert.Equal(xs[k].shape, together[k].shape);
            Assert.Equal(ScalarType.BFloat16, together[k].dtype);
            var alone = MatrixMath.Orthogonalize(xs[k], 5, A, B, C);
            if (k < 3 || k == 4)
            {
                // The oblong ones take the same products as alone, matrix by matrix.
                double error = (together[k].to(ScalarType.Float64) - alone.to(ScalarType.Float64)).abs().max().item<double>();
                Assert.True(error < 1e-6, $"shape {k}: off by {error:E2} from its own chain");
            }
            else
            {
                // The square one moved to the Gram form: bf16 rounding apart, it is the float64 iteration on X. Measured
                // here: 0.034 off in Frobenius norm against 0.023 alone on X, but its singular values (what Muon needs; a
                // square Gaussian's smallest are still rising after five iterations) 0.060 off against 0.089. The bounds
                // leave room for other rounding: 2x and 3x the iteration on X.
                var exact = MatrixMath.Iterate(MatrixMath.UnitNorm(xs[k].to(ScalarType.Float64)), 5, A, B, C);
                var relative = ((together[k].to(ScalarType.Float64) - exact).Squared().sum().sqrt() / exact.Squared().sum().sqrt()).item<double>();
                var plain = ((alone.to(ScalarType.Float64) - exact).Squared().sum().sqrt() / exact.Squared().sum().sqrt()).item<double>();
                Assert.True(relative < 2 * plain, $"square in the Gram chain off by {relative:F4}, alone on X by {plain:F4}");
                var singular = torch.linalg.svdvals(together[k].to(ScalarType.Float64));
                var exactSingular = torch.linalg.svdvals(exact);
                double gap = (singular - exactSingular).abs().max().item<double>();
                double plainGap = (torch.linalg.svdvals(alone.to(ScalarType.Float64)) - exactSingular).abs().max().item<double>();
                Assert.True(gap < 0.1 && gap < 3 * plainGap, $"singular values off by {gap:F4}, alone on X by {plainGap:F4}");
                Assert.True(singular.max().item<double>() < 1.25);
            }
        }
        var float32 = MatrixMath.Orthogonalize(xs.Select(x => x.to(ScalarType.Float32)).ToArray(), 5, A, B, C);
        Assert.True(TestData.Identical(float32[3], MatrixMath.Iterate(MatrixMath.UnitNorm(xs[3].to(ScalarType.Float32)), 5, A, B, C)));
    }
}
