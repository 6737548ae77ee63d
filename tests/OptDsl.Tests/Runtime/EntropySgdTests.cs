using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Services.Random;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Entropy-SGD against Algorithm 1 of the paper written out here in float64 with the same noise (L Langevin steps, the
/// average μ, the outer SGD step on γ(x − μ), γ scoped), on a loss whose gradient the reference writes by hand.
/// </summary>
public class EntropySgdTests
{
    const double A = 1.5;

    static Parameter[] Start() => new[]
    {
        new Parameter(torch.linspace(-1, 1, 6, ScalarType.Float64).reshape(2, 3)),
        new Parameter(torch.tensor(new[] { 0.4, -0.9, 0.05 }, ScalarType.Float64)),
    };

    /// <summary>f(x) = Σ ½ A x² + 0.1 sin(3x), so ∇f = A x + 0.3 cos(3x).</summary>
    static Tensor Loss(Parameter[] ps)
    {
        using var kept = KeptScalars.Rent();
        return ps.Select(p => p.Squared().mul(kept[0.5 * A]).Plus(p.mul(kept[3]).sin().mul(kept[0.1])).sum()).Aggregate((a, b) => a.Plus(b));
    }

    static Tensor Gradient(Tensor x)
    {
        using var kept = KeptScalars.Rent();
        return x.mul(kept[A]).Plus(x.mul(kept[3]).cos().mul(kept[0.3]));
    }

    [Fact]
    public void Follows_the_papers_algorithm()
    {
        using var kept = KeptScalars.Rent();
        const int L = 4, Steps = 3;
        const double eta = 0.1, gamma0 = 0.5, noise = 0.01, alpha = 0.75, scoping = 0.1, outerLr = 0.5;
        const ulong seed = 9;

        var x = Start().Select(p => p.detach().clone()).ToArray();
        for (int t = 0; t < Steps; t++)
        {
            double gamma = gamma0 * Math.Pow(1 + scoping, t);
            var xp = x.Select(v => v.clone()).ToArray();
            var mu = x.Select(v => v.clone()).ToArray();
            for (int i = 0; i < L; i++)
                for (int k = 0; k < x.Length; k++)
                {
                    var z = CounterRandomTensors.Normal(seed, EntropySgd.NoiseStream(t, i, k), x[k].shape, CPU).to(ScalarType.Float64);
                    xp[k] = (xp[k] - (Gradient(xp[k]) - (x[k] - xp[k]).mul(kept[gamma])).mul(kept[eta])).Plus(z.mul(kept[Math.Sqrt(eta) * noise]));
                    mu[k] = mu[k].mul(kept[(1 - alpha)]).Plus(xp[k].mul(kept[alpha]));
                }
            for (int k = 0; k < x.Length; k++) x[k] = x[k] - (x[k] - mu[k]).mul(kept[outerLr * gamma]);
        }

        var ps = Start();
        var optimizer = new EntropySgd(new OptDsl.Optimizers.SGD(ps, lr: outerLr), langevinSteps: L, innerLr: eta, gamma: gamma0,
            noise: noise, alpha: alpha, scoping: scoping, seed: seed);
        int calls = 0;
        for (int t = 0; t < Steps; t++)
            optimizer.step(() =>
            {
                calls++;
                optimizer.zero_grad();
                var loss = Loss(ps);
                loss.backward();
                return loss;
            });
        Assert.Equal(Steps * L, calls);
        for (int k = 0; k < ps.Length; k++)
        {
            var error = (ps[k] - x[k]).abs().max().item<double>();
            Assert.True(error < 1e-12, $"tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void A_non_finite_loss_puts_the_weights_back_and_skips_the_update()
    {
        var ps = Start();
        var before = ps.Select(p => p.detach().clone()).ToArray();
        var optimizer = new EntropySgd(new OptDsl.Optimizers.SGD(ps, lr: 0.5), langevinSteps: 3);
        int calls = 0;
        var e = Assert.Throws<InvalidOperationException>(() => optimizer.step(() =>
        {
            using var kept = KeptScalars.Rent();
            optimizer.zero_grad();
            var loss = Loss(ps).mul(kept[(++calls == 2 ? double.NaN : 1.0)]);
            loss.backward();
            return loss;
        }));
        Assert.Contains("Langevin step 1", e.Message);
        for (int k = 0; k < ps.Length; k++) Assert.True(ps[k].equal(before[k]).all().item<bool>());
        Assert.Equal(0, optimizer.StepCount);
    }

    [Fact]
    public void Settings_are_checked()
    {
        var inner = new OptDsl.Optimizers.SGD(Start());
        Assert.Throws<ArgumentOutOfRangeException>(() => new EntropySgd(inner, langevinSteps: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EntropySgd(inner, innerLr: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EntropySgd(inner, alpha: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EntropySgd(inner, noise: double.NaN));
        Assert.Throws<ArgumentException>(() => new EntropySgd(inner).step());
    }
}
