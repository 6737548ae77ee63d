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
/// Shampoo without an eigensolver in the reference: for gradients <c>U diag(c_t) Vᵀ</c> with fixed orthogonal U, V, the
/// factors are <c>U diag(λ) Uᵀ</c> with λ the EMA of c², so the preconditioned direction is
/// <c>U diag(c (λ_L + ε)^(−1/4) (λ_R + ε)^(−1/4)) Vᵀ</c> with λ as of the last root computation; the graft, momentum and
/// decay are then written out elementwise. Vectors take RMSprop's direction.
/// </summary>
public class ShampooTests
{
    const int Steps = 9, Every = 4;
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, Sb = 0.9, Eps = 1e-8, MatrixEps = 1e-12, Wd = 0.01;

    static Tensor Orthogonal(int n, int seed) =>
        linalg.qr(torch.tensor(Enumerable.Range(0, n * n).Select(i => Math.Sin(seed * 3.1 + i * 0.9) + 0.05 * i).ToArray(), ScalarType.Float64).reshape(n, n)).Q;

    static Tensor Coefficients(int t, long rows, long columns)
    {
        var c = torch.zeros(rows, columns, ScalarType.Float64);
        for (long i = 0; i < Math.Min(rows, columns); i++) c[i, i] = (i + 1) * (1 + 0.3 * Math.Cos(t * 0.7 + i));
        return c;
    }

    [Fact]
    public void Preconditions_with_inverse_fourth_roots_grafted_onto_RMSprop()
    {
        using var kept = KeptScalars.Rent();
        long rows = 5, columns = 3;
        var u = Orthogonal((int)rows, 1);
        var w = Orthogonal((int)columns, 2);
        var start = new[] { torch.linspace(-1, 1, rows * columns, ScalarType.Float64).reshape(rows, columns), torch.linspace(1, -1, 4, ScalarType.Float64) };
        Tensor Gradient(int t, int k) => k == 0 ? u.matmul(Coefficients(t, rows, columns)).matmul(w.t())
            : torch.tensor(Enumerable.Range(0, 4).Select(i => Math.Sin(t + 2.0 * i)).ToArray(), ScalarType.Float64);

        var expected = start.Select(x => x.clone()).ToArray();
        var m = start.Select(x => torch.zeros_like(x)).ToArray();
        var v = start.Select(x => torch.zeros_like(x)).ToArray();
        var lambda = torch.zeros(Math.Min(rows, columns), ScalarType.Float64);
        Tensor? rootL = null, rootR = null;
        for (int t = 1; t <= Steps; t++)
        {
            var c = Coefficients(t, rows, columns).diag();
            lambda = lambda.mul(kept[Sb]).Plus(c.mul(kept[(1 - Sb)]) * c);
            if (t == 1 || (t - 1) % Every == 0)
            {
                // Directions beyond the rank have λ = 0: their root is ε^(−1/4), but the gradient has nothing there.
                rootL = lambda.add(kept[MatrixEps], ScalarCalls.One).pow(kept[-0.25]);
                rootR = lambda.add(kept[MatrixEps], ScalarCalls.One).pow(kept[-0.25]);
            }
            for (int k = 0; k < 2; k++)
            {
                var g = Gradient(t, k);
                v[k] = v[k].mul(kept[Beta2]).Plus(g.mul(kept[(1 - Beta2)]) * g);
                var graft = g / v[k].div(kept[(1 - Math.Pow(Beta2, t))]).sqrt().add(kept[Eps], ScalarCalls.One);
                Tensor direction = graft;
                if (k == 0)
                {
                    var d = torch.zeros(rows, columns, ScalarType.Float64);
                    for (int i = 0; i < lambda.shape[0]; i++) d[i, i] = c[i] * rootL![i] * rootR![i];
                    var preconditioned = u.matmul(d).matmul(w.t());
                    direction = preconditioned * (graft.norm() / preconditioned.norm());
                }
                m[k] = m[k].mul(kept[Beta1]).Plus(direction.mul(kept[(1 - Beta1)]));
                expected[k] = expected[k].mul(kept[(1 - Lr * Wd)]) - m[k].mul(kept[Lr / (1 - Math.Pow(Beta1, t))]);
            }
        }

        var ps = start.Select(x => new Parameter(x.clone())).ToArray();
        using var shampoo = new Shampoo(ps, lr: Lr, beta1: Beta1, beta2: Beta2, shampooBeta: Sb, eps: Eps, matrixEps: MatrixEps,
            weightDecay: Wd, preconditionFrequency: Every);
        for (int t = 1; t <= Steps; t++)
        {
            using (torch.no_grad())
                for (int k = 0; k < ps.Length; k++) ps[k].grad = Gradient(t, k);
            shampoo.step();
        }
        for (int k = 0; k < ps.Length; k++)
        {
            var error = (ps[k] - expected[k]).abs().max().item<double>();
            Assert.True(error < 1e-10, $"tensor {k}: off by {error:E2}");
        }
        Assert.Null(shampoo.StateOf(ps[1])["pl"]);
        Assert.NotNull(shampoo.StateOf(ps[0])["pr"]);
    }

    [Fact]
    public void Settings_and_gradients_are_checked_before_anything_changes()
    {
        using var kept = KeptScalars.Rent();
        var p = new Parameter(torch.ones(3, 4));
        Assert.Contains("matrixEps", Assert.Throws<ArgumentException>(() => new Shampoo(new[] { p }, matrixEps: 0)).Message);
        using var shampoo = new Shampoo(new[] { p });
        using (torch.no_grad()) p.grad = torch.full(3, 4, kept[float.PositiveInfinity]);
        Assert.Contains("NaN or infinity", Assert.Throws<InvalidOperationException>(() => shampoo.step()).Message);
        Assert.True(p.eq(kept[1]).all().item<bool>());
        Assert.Equal(0, shampoo.StateOf(p).Step);
    }
}
