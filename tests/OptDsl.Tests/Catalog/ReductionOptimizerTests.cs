using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Optimizers whose rule reduces over whole tensors (LAMB, LARS, SGD-SaI, Cautious AdamW and Lion), each against its paper's
/// equations written out here over whole float64 tensors, over 12 steps on the four test tensors.
/// </summary>
public class ReductionOptimizerTests
{
    const int Steps = 12;

    /// <summary>One reference step for tensor <c>k</c>: (parameter, gradient, state, step) -> new parameter.</summary>
    delegate Tensor ReferenceStep(Tensor p, Tensor g, Dictionary<string, Tensor> state, int t);

    sealed record Case(string Name, Func<Parameter[], DeclaredOptimizer> Create, ReferenceStep Reference);

    static Tensor State(Dictionary<string, Tensor> state, string name, Tensor like) =>
        state.TryGetValue(name, out var s) ? s : state[name] = torch.zeros_like(like);

    static double Norm(Tensor x) => x.norm().item<double>();

    static ReferenceStep LambReference(double lr, double b1, double b2, double eps, double wd) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        var m = s["m"] = State(s, "m", p).mul(kept[b1]).Plus(g.mul(kept[(1 - b1)]));
        var v = s["v"] = State(s, "v", p).mul(kept[b2]).Plus(g.mul(kept[(1 - b2)]) * g);
        var u = (m.div(kept[(1 - Math.Pow(b1, t))]) / v.div(kept[(1 - Math.Pow(b2, t))]).sqrt().add(kept[eps], ScalarCalls.One)).Plus(p.mul(kept[wd]));
        var (wn, un) = (Norm(p), Norm(u));
        double trust = wn > 0 && un > 0 ? wn / un : 1;
        return p - u.mul(kept[lr * trust]);
    };

    static ReferenceStep LarsReference(double lr, double momentum, double wd, double eta, bool adaptive) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        var (wn, gn) = (Norm(p), Norm(g));
        double local = adaptive && wn > 0 && gn > 0 ? eta * wn / (gn + wd * wn) : 1;
        var buffer = s["buffer"] = State(s, "buffer", p).mul(kept[momentum]).Plus(g.Plus(p.mul(kept[wd])).mul(kept[lr * local]));
        return p - buffer;
    };

    static ReferenceStep CautiousAdamWReference(double lr, double b1, double b2, double eps, double wd) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        p = p.mul(kept[(1 - lr * wd)]);
        var m = s["m"] = State(s, "m", p).mul(kept[b1]).Plus(g.mul(kept[(1 - b1)]));
        var v = s["v"] = State(s, "v", p).mul(kept[b2]).Plus(g.mul(kept[(1 - b2)]) * g);
        var mask = (m * g > kept[0]).to(ScalarType.Float64);
        mask = mask.div(kept[Math.Max(mask.mean().item<double>(), 1e-3)]);
        return p - m.mul(kept[lr / (1 - Math.Pow(b1, t))]) / v.div(kept[(1 - Math.Pow(b2, t))]).sqrt().add(kept[eps], ScalarCalls.One) * mask;
    };

    static ReferenceStep CautiousLionReference(double lr, double b1, double b2, double wd) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        var m = State(s, "m", p);
        var u = m.mul(kept[b1]).Plus(g.mul(kept[(1 - b1)])).sign();
        var mask = (u * g > kept[0]).to(ScalarType.Float64);
        mask = mask.div(kept[Math.Max(mask.mean().item<double>(), 1e-3)]);
        s["m"] = m.mul(kept[b2]).Plus(g.mul(kept[(1 - b2)]));
        return p.mul(kept[(1 - lr * wd)]) - u.mul(kept[lr]) * mask;
    };

    static ReferenceStep SignSgdReference(double lr, double momentum, double wd) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        var direction = momentum == 0 ? g : s["m"] = State(s, "m", p).mul(kept[momentum]).Plus(g.mul(kept[(1 - momentum)]));
        return p.mul(kept[(1 - lr * wd)]) - direction.sign().mul(kept[lr]);
    };

    static ReferenceStep SgdSaiReference(double lr, double momentum, double wd, double eps) => (p, g, s, t) =>
    {
        using var kept = KeptScalars.Rent();
        if (t == 1)
        {
            // The signal-to-noise ratio of the first gradient; a deviation that is zero or undefined (one element) counts as 0.
            double sigma = g.NumberOfElements > 1 ? g.std().item<double>() : 0;
            s["gsnr"] = torch.tensor(sigma != 0 ? Norm(g) / (sigma + eps) : Norm(g), ScalarType.Float64);
            s["buffer"] = g.clone();
        }
        var buffer = s["buffer"] = s["buffer"].mul(kept[momentum]).Plus(g.mul(kept[(1 - momentum)]));
        return p.mul(kept[(1 - lr * wd)]) - buffer.mul(kept[lr * s["gsnr"].item<double>()]);
    };

    static readonly Case[] All =
    {
        new("LAMB", ps => new Lamb(ps, lr: 0.02, weightDecay: 0.1), LambReference(0.02, 0.9, 0.999, 1e-6, 0.1)),
        new("LAMB/betas_eps", ps => new Lamb(ps, lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-4, weightDecay: 0),
            LambReference(0.01, 0.8, 0.99, 1e-4, 0)),
        new("LARS", ps => new Lars(ps, lr: 0.5, momentum: 0.9, weightDecay: 1e-3, trustCoefficient: 0.01),
            LarsReference(0.5, 0.9, 1e-3, 0.01, true)),
        new("LARS/not_adaptive", ps => new Lars(ps, lr: 0.05, momentum: 0.5, weightDecay: 1e-2, adaptive: false),
            LarsReference(0.05, 0.5, 1e-2, 1e-3, false)),
        new("CautiousAdamW", ps => new CautiousAdamW(ps, lr: 0.01, weightDecay: 0.1), CautiousAdamWReference(0.01, 0.9, 0.999, 1e-8, 0.1)),
        new("SGD-SaI", ps => new SgdSai(ps, lr: 0.002, momentum: 0.9, weightDecay: 0.1), SgdSaiReference(0.002, 0.9, 0.1, 1e-8)),
        new("SGD-SaI/no_momentum", ps => new SgdSai(ps, lr: 0.001, momentum: 0, weightDecay: 0), SgdSaiReference(0.001, 0, 0, 1e-8)),
        new("CautiousLion", ps => new CautiousLion(ps, lr: 0.003, beta1: 0.5, weightDecay: 0.1), CautiousLionReference(0.003, 0.5, 0.99, 0.1)),
        new("SignSgd", ps => new SignSgd(ps, lr: 0.01, weightDecay: 0.1), SignSgdReference(0.01, 0, 0.1)),
        new("SignSgd/momentum", ps => new SignSgd(ps, lr: 0.01, momentum: 0.9), SignSgdReference(0.01, 0.9, 0)),
    };

    public static TheoryData<string> Names() => new(All.Select(c => c.Name));

    static Tensor[] ReferenceRun(Case c)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        var states = p.Select(_ => new Dictionary<string, Tensor>()).ToArray();
        for (int t = 1; t <= Steps; t++)
            for (int k = 0; k < p.Length; k++)
                p[k] = c.Reference(p[k], TestData.Gradient(t, k, ScalarType.Float64), states[k], t);
        return p;
    }

    /// <summary>
    /// float64: the same operations in another order, 1e-12 relative. float32: per-step rounding (1e-7) over 12 steps,
    /// 2e-5 absolute on weights of order 1. Cautious masks are sign tests, discontinuous where the momentum is within
    /// rounding of zero; none of these inputs puts an element there (an exact zero gradient gives a zero mask on both).
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Follows_its_papers_equations(string name)
    {
        var c = All.Single(x => x.Name == name);
        var expected = ReferenceRun(c);
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 2e-5) })
        {
            var parameters = TestData.Parameters(dtype);
            using var optimizer = c.Create(parameters);
            for (int t = 1; t <= Steps; t++)
            {
                TestData.SetGradients(parameters, t);
                optimizer.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                var error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                var scale = dtype == ScalarType.Float64 ? expected[k].abs().max().item<double>() : 1;
                Assert.True(error <= tolerance * scale, $"{name} {dtype} tensor {k}: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void Trust_ratios_are_one_where_a_norm_is_zero()
    {
        using var kept = KeptScalars.Rent();
        // Zero weights: LAMB's ratio falls back to 1, so the first step is lr times the Adam direction (±lr here).
        var p = new Parameter(torch.zeros(5, ScalarType.Float64));
        using var lamb = new Lamb(new[] { p }, lr: 0.1, weightDecay: 0);
        p.grad = torch.tensor(new[] { 1.0, -2.0, 3.0, -4.0, 5.0 });
        lamb.step();
        Assert.True(p.allclose(torch.tensor(new[] { -0.1, 0.1, -0.1, 0.1, -0.1 }), rtol: 1e-5, atol: 0));

        // Zero gradient: LARS's local rate falls back to 1 and only the decay moves the weights.
        var q = new Parameter(torch.ones(3, ScalarType.Float64));
        using var lars = new Lars(new[] { q }, lr: 0.1, momentum: 0, weightDecay: 0.5);
        q.grad = torch.zeros(3, ScalarType.Float64);
        lars.step();
        Assert.True(q.allclose(torch.full(3, kept[0.95], ScalarType.Float64), rtol: 1e-12, atol: 0));
    }

    [Fact]
    public void Empty_parameters_are_stepped_without_error()
    {
        using var kept = KeptScalars.Rent();
        var empty = new Parameter(torch.zeros(0));
        var other = new Parameter(torch.ones(4));
        using var opt = new CautiousLion(new[] { empty, other }, lr: 0.1);
        empty.grad = torch.zeros(0);
        other.grad = torch.ones(4);
        opt.step();
        Assert.True(other.allclose(torch.full(4, kept[0.9f])));
    }
}
