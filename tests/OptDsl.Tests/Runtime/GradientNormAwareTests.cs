using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// GAM against its four-pass step written out in float64 on a loss whose gradient the test writes by hand
/// (f = Σ ½ A x² + 0.1 sin(3x) + x₀ x₁ coupling the tensors), 3 steps around plain SGD.
/// </summary>
public class GradientNormAwareTests
{
    static Parameter[] Start() => new[]
    {
        new Parameter(torch.tensor(new[] { 0.7, -0.4, 1.2, 0.1 }, ScalarType.Float64).reshape(2, 2)),
        new Parameter(torch.tensor(new[] { -0.3, 0.9, 0.5 }, ScalarType.Float64)),
    };

    static readonly double[] A = { 1.5, 0.7 };

    static Tensor Loss(Parameter[] ps)
    {
        using var kept = KeptScalars.Rent();
        return ps.Select((p, k) => p.Squared().mul(kept[0.5 * A[k]]).Plus(p.mul(kept[3]).sin().mul(kept[0.1])).sum()).Aggregate((a, b) => a.Plus(b)).Plus(ps[0][0, 0] * ps[1][0]);
    }

    static Tensor[] Gradient(Tensor[] x)
    {
        using var kept = KeptScalars.Rent();
        var g = x.Select((p, k) => p.mul(kept[A[k]]).Plus(p.mul(kept[3]).cos().mul(kept[0.3]))).ToArray();
        g[0][0, 0].Plus_(x[1][0]);
        g[1][0].Plus_(x[0][0, 0]);
        return g;
    }

    static double Norm(Tensor[] t) => Math.Sqrt(t.Sum(x => x.Squared().sum().item<double>()));

    static Tensor[] Plus(Tensor[] x, Tensor[] d, double radius)
    {
        using var kept = KeptScalars.Rent();
        double scale = radius / (Norm(d) + 1e-12);
        return x.Zip(d, (a, b) => a.Plus(b.mul(kept[scale]))).ToArray();
    }

    [Fact]
    public void Follows_the_four_pass_step()
    {
        using var kept = KeptScalars.Rent();
        const double rho = 0.1, normRho = 0.05, beta1 = 1, beta2 = 0.5, beta3 = 0.8, gamma = 0.3, lr = 0.1;
        var w = Start().Select(p => p.detach().clone()).ToArray();
        for (int t = 0; t < 3; t++)
        {
            var g0 = Gradient(w);
            var g1 = Gradient(Plus(w, g0, rho));
            var w2 = Plus(w, g1.Zip(g0, (a, b) => a - b).ToArray(), normRho);
            var g2 = Gradient(w2);
            var g3 = Gradient(Plus(w2, g2, rho));
            var m = g0.Zip(g2, (a, b) => a.Plus(b.mul(kept[beta2]))).ToArray();
            var n = g1.Zip(g3, (a, b) => a.mul(kept[beta1]).Plus(b.mul(kept[beta3]))).ToArray();
            double cosine = m.Zip(n, (a, b) => (a * b).sum().item<double>()).Sum() / (Norm(n) * Norm(m) + 1e-12);
            w = w.Select((x, k) => x - (n[k] - (m[k] - n[k].mul(kept[cosine * Norm(m)]).div(kept[(Norm(n) + 1e-12)])).mul(kept[gamma])).mul(kept[lr])).ToArray();
        }

        var ps = Start();
        var gam = new GradientNormAware(new OptDsl.Optimizers.SGD(ps, lr: lr), rho, normRho, beta1, beta2, beta3, gamma);
        int calls = 0;
        for (int t = 0; t < 3; t++)
            gam.step(() =>
            {
                calls++;
                gam.zero_grad();
                var loss = Loss(ps);
                loss.backward();
                return loss;
            });
        Assert.Equal(12, calls);
        for (int k = 0; k < ps.Length; k++)
        {
            var error = (ps[k] - w[k]).abs().max().item<double>();
            Assert.True(error < 1e-12, $"tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void A_non_finite_gradient_puts_the_weights_back()
    {
        var ps = Start();
        var before = ps.Select(p => p.detach().clone()).ToArray();
        var gam = new GradientNormAware(new OptDsl.Optimizers.SGD(ps, lr: 0.1));
        int calls = 0;
        Assert.Throws<InvalidOperationException>(() => gam.step(() =>
        {
            using var kept = KeptScalars.Rent();
            gam.zero_grad();
            var loss = Loss(ps).mul(kept[(++calls == 2 ? double.PositiveInfinity : 1.0)]);
            loss.backward();
            return loss;
        }));
        for (int k = 0; k < ps.Length; k++) Assert.True(ps[k].equal(before[k]).all().item<bool>());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientNormAware(new OptDsl.Optimizers.SGD(ps), rho: -1));
    }
}
