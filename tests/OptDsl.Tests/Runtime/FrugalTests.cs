using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.HandWritten;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// FRUGAL and GaLore without an SVD in the reference: for gradients <c>U diag(c_t) Vᵀ</c> with fixed orthogonal U, V and
/// |c| descending, the top-r singular vectors are U's (or V's) first r columns, so the projected Adam runs on the first r
/// coefficients' rows (columns) of <c>diag(c_t) Vᵀ</c> (<c>U diag(c_t)</c>), and the residual is the rest of the
/// expansion, whose sign FRUGAL steps along. Vectors take Adam. 6 steps, float64, 1e-10.
/// </summary>
public class FrugalTests
{
    const int Steps = 6, Rank = 2;
    const double Lr = 0.01, B1 = 0.9, B2 = 0.999, Eps = 1e-8, Alpha = 0.5, Wd = 0.01;

    static Tensor Orthogonal(int n, int seed) =>
        linalg.qr(torch.tensor(Enumerable.Range(0, n * n).Select(i => Math.Sin(seed * 2.3 + i * 1.1) + 0.07 * i).ToArray(), ScalarType.Float64).reshape(n, n)).Q;

    static Tensor Coefficients(int t, long rows, long columns)
    {
        var c = torch.zeros(rows, columns, ScalarType.Float64);
        long k = Math.Min(rows, columns);
        for (long i = 0; i < k; i++) c[i, i] = (k - i) * (1 + 0.25 * Math.Sin(t + 1.7 * i));
        return c;
    }

    [Theory]
    [InlineData(6, 10, 0.003)]
    [InlineData(10, 6, 0.003)]
    [InlineData(6, 10, 0.0)]
    public void Is_Adam_on_the_top_coefficients_and_a_sign_step_on_the_rest(int rows, int columns, double residualLr)
    {
        using var kept = KeptScalars.Rent();
        var u = Orthogonal(rows, 3);
        var w = Orthogonal(columns, 4);
        bool left = rows <= columns;
        var start = new[] { torch.linspace(-1, 1, rows * columns, ScalarType.Float64).reshape(rows, columns), torch.linspace(0.3, -0.3, 5, ScalarType.Float64) };
        Tensor Gradient(int t, int k) => k == 0 ? u.matmul(Coefficients(t, rows, columns)).matmul(w.t())
            : torch.tensor(Enumerable.Range(0, 5).Select(i => Math.Cos(t + 1.3 * i)).ToArray(), ScalarType.Float64);

        var expected = start.Select(x => x.clone()).ToArray();
        var m = new Tensor[2];
        var v = new Tensor[2];
        for (int t = 1; t <= Steps; t++)
        {
            var c = Coefficients(t, rows, columns);
            // The projected gradient in U's (V's) own basis, and the residual of the expansion beyond rank r.
            var reduced = left ? c[..Rank, ..].matmul(w.t()) : u.matmul(c[.., ..Rank]);
            var rest = c.clone();
            for (int i = 0; i < Rank; i++) rest[i, i] = 0;
            var residual = u.matmul(rest).matmul(w.t());
            var vector = Gradient(t, 1);
            foreach (var (k, g) in new[] { (0, reduced), (1, vector) })
            {
                m[k] = t == 1 ? g.mul(kept[(1 - B1)]) : m[k].mul(kept[B1]).Plus(g.mul(kept[(1 - B1)]));
                v[k] = t == 1 ? g.mul(kept[(1 - B2)]) * g : v[k].mul(kept[B2]).Plus(g.mul(kept[(1 - B2)]) * g);
            }
            Tensor Adam(int k)
            {
                using var kept = KeptScalars.Rent();
                return m[k].div(kept[(1 - Math.Pow(B1, t))]) / v[k].div(kept[(1 - Math.Pow(B2, t))]).sqrt().add(kept[Eps], ScalarCalls.One);
            }
            var back = left ? u[.., ..Rank].matmul(Adam(0)) : Adam(0).matmul(w[.., ..Rank].t());
            expected[0] = expected[0].mul(kept[(1 - Lr * Wd)]) - back.mul(kept[Lr * Alpha]) - residual.sign().mul(kept[residualLr]);
            expected[1] = expected[1].mul(kept[(1 - Lr * Wd)]) - Adam(1).mul(kept[Lr]);
        }

        var ps = start.Select(x => new Parameter(x.clone())).ToArray();
        using var frugal = new Frugal(ps, lr: Lr, rank: Rank, updateGap: 100, scale: Alpha, residualLr: residualLr, weightDecay: Wd);
        for (int t = 1; t <= Steps; t++)
        {
            using (torch.no_grad()) for (int k = 0; k < 2; k++) ps[k].grad = Gradient(t, k);
            frugal.step();
        }
        for (int k = 0; k < 2; k++)
        {
            var error = (ps[k] - expected[k]).abs().max().item<double>();
            Assert.True(error < 1e-10, $"tensor {k}: off by {error:E2}");
        }
        // State: the projection and r×n (m×r) moments for the matrix, two moments for the vector.
        long reducedElements = left ? Rank * columns : rows * Rank;
        Assert.Equal(((left ? rows : columns) * Rank + 2 * reducedElements + 2 * 5) * 8, frugal.StateBytes);
    }

    [Fact]
    public void Settings_are_checked_and_low_rank_state_is_small()
    {
        var p = new Parameter(torch.ones(768, 3072));
        Assert.Contains("rank", Assert.Throws<ArgumentException>(() => new Frugal(new[] { p }, rank: 0)).Message);
        using var galore = new Frugal(new[] { p }, rank: 128, residualLr: 0);
        using var adam = new OptDsl.Optimizers.AdamW(new[] { new Parameter(torch.ones(768, 3072)) });
        // p (768×128) and m, v (128×3072) against Adam's two 768×3072 moments: 18.8 %.
        Assert.Equal((768.0 * 128 + 2 * 128 * 3072) / (2 * 768 * 3072), (double)galore.StateBytes / adam.StateBytes, 6);
    }

    /// <summary>
    /// SVD-free: gradients made of two DCT-II basis vectors (rows 1 and 4, the subspace) and a weaker third (row 6, the
    /// rest): the projection must pick the two, Adam runs on their coefficients and the sign step on the third's part.
    /// The DCT is written out here element by element.
    /// </summary>
    [Fact]
    public void The_svd_free_projection_picks_the_basis_vectors_of_most_energy()
    {
        using var kept = KeptScalars.Rent();
        const int rows = 8, columns = 12;
        var d = torch.zeros(rows, rows, ScalarType.Float64);
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < rows; k++)
                d[i, k] = Math.Sqrt((k == 0 ? 1.0 : 2.0) / rows) * Math.Cos(Math.PI / rows * (i + 0.5) * k);
        Assert.True((d.t().matmul(d) - torch.eye(rows, dtype: ScalarType.Float64)).abs().max().item<double>() < 1e-12);
        Tensor Coefficients(int t, int row, double scale) =>
            torch.tensor(Enumerable.Range(0, columns).Select(j => scale * Math.Sin(t * 0.9 + j * 0.7 + row)).ToArray(), ScalarType.Float64).unsqueeze(0);
        Tensor Gradient(int t) => d[.., 1..2].matmul(Coefficients(t, 1, 2.0)).Plus(d[.., 4..5].matmul(Coefficients(t, 4, 1.5))).Plus(d[.., 6..7].matmul(Coefficients(t, 6, 0.2)));

        var start = torch.linspace(-1, 1, rows * columns, ScalarType.Float64).reshape(rows, columns);
        var expected = start.clone();
        Tensor? m = null, v = null;
        var basis = torch.cat(new[] { d[.., 1..2], d[.., 4..5] }, 1);
        for (int t = 1; t <= Steps; t++)
        {
            var reduced = torch.cat(new[] { Coefficients(t, 1, 2.0), Coefficients(t, 4, 1.5) }, 0);
            m = t == 1 ? reduced.mul(kept[(1 - B1)]) : m!.mul(kept[B1]).Plus(reduced.mul(kept[(1 - B1)]));
            v = t == 1 ? reduced.mul(kept[(1 - B2)]) * reduced : v!.mul(kept[B2]).Plus(reduced.mul(kept[(1 - B2)]) * reduced);
            var adam = m.div(kept[(1 - Math.Pow(B1, t))]) / v.div(kept[(1 - Math.Pow(B2, t))]).sqrt().add(kept[Eps], ScalarCalls.One);
            var rest = d[.., 6..7].matmul(Coefficients(t, 6, 0.2));
            expected = expected - basis.matmul(adam).mul(kept[Lr * Alpha]) - rest.sign().mul(kept[0.003]);
        }
        var p = new Parameter(start.clone());
        using var frugal = new Frugal(new[] { p }, lr: Lr, rank: Rank, updateGap: 2, scale: Alpha, residualLr: 0.003, svdFree: true);
        for (int t = 1; t <= Steps; t++)
        {
            using (torch.no_grad()) p.grad = Gradient(t);
            frugal.step();
        }
        var error = (p - expected).abs().max().item<double>();
        Assert.True(error < 1e-10, $"off by {error:E2}");
    }
}
