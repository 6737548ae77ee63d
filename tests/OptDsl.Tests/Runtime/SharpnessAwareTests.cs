using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// SAM and ASAM around declared optimizers against the method written out by hand: the gradient at w, the ascent
/// e = ρ T² g / ‖T g‖, the gradient at w + e, the base step from w with it.
/// </summary>
public class SharpnessAwareTests
{
    static readonly Tensor X = TestData.Normal(new long[] { 32, 3 }, 1), Y = TestData.Normal(new long[] { 32, 1 }, 2);

    static Parameter[] Model()
    {
        using var kept = KeptScalars.Rent();
        return new[]
    {
        new Parameter(TestData.Normal(new long[] { 8, 3 }, 3).mul(kept[0.5])),
        new Parameter(TestData.Normal(new long[] { 8 }, 4).mul(kept[0.1])),
        new Parameter(TestData.Normal(new long[] { 1, 8 }, 5).mul(kept[0.5])),
    };
    }

    static Tensor Loss(Tensor[] w) => (torch.tanh(X.mm(w[0].t()).Plus(w[1])).mm(w[2].t()) - Y).Squared().mean();

    static Tensor[] GradientAt(Tensor[] w)
    {
        var leaves = w.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
        Loss(leaves).backward();
        return leaves.Select(l => l.grad!.detach().clone()).ToArray();
    }

    [Theory]
    [InlineData(false, 0.05, 0.0)]
    [InlineData(true, 0.5, 0.01)]
    public void Follows_the_method_written_out(bool adaptive, double rho, double eta)
    {
        using var kept = KeptScalars.Rent();
        var ours = Model();
        var reference = TestData.Copies(ours);
        using var inner = new SGD(ours, lr: 0.1, momentum: 0.9);
        using var byHand = new SGD(reference, lr: 0.1, momentum: 0.9);
        var sam = new SharpnessAware(inner, rho, adaptive, eta);
        for (int step = 0; step < 4; step++)
        {
            sam.step(() =>
            {
                var loss = Loss(ours);
                loss.backward();
                return loss;
            });

            var g = GradientAt(reference);
            var t = reference.Select(w => adaptive ? w.abs().add(kept[eta], ScalarCalls.One) : torch.ones_like(w)).ToArray();
            double norm = Math.Sqrt(g.Zip(t).Sum(x => (x.First * x.Second).Squared().sum().item<double>()));
            var ascended = reference.Select((w, k) => w.detach().Plus((t[k].Squared().mul(kept[rho]) * g[k]).div(kept[(norm + 1e-12)]))).ToArray();
            var adversarial = GradientAt(ascended);
            for (int k = 0; k < reference.Length; k++) reference[k].grad = adversarial[k];
            byHand.step();
        }
        for (int k = 0; k < ours.Length; k++)
            Assert.True(ours[k].allclose(reference[k], rtol: 1e-12, atol: 1e-14), $"tensor {k}: off by {(ours[k] - reference[k]).abs().max().item<double>():E2}");
    }

    [Fact]
    public void With_radius_zero_it_is_the_base_optimizer_bit_for_bit()
    {
        var ours = Model();
        var plain = TestData.Copies(ours);
        var sam = new SharpnessAware(new AdamW(ours, lr: 0.01), rho: 0);
        using var adamw = new AdamW(plain, lr: 0.01);
        for (int step = 0; step < 3; step++)
        {
            sam.step(() => { var l = Loss(ours); l.backward(); return l; });
            adamw.zero_grad();
            Loss(plain).backward();
            adamw.step();
        }
        for (int k = 0; k < ours.Length; k++) Assert.True(TestData.Identical(ours[k], plain[k]), $"tensor {k}");
    }

    [Fact]
    public void It_needs_a_closure_that_calls_backward_and_a_bad_gradient_changes_nothing()
    {
        var ps = Model();
        var before = TestData.Copies(ps);
        var sam = new SharpnessAware(new SGD(ps, lr: 0.1));
        Assert.Throws<ArgumentException>(() => sam.step());
        Assert.Throws<InvalidOperationException>(() => sam.step(() => Loss(ps)));
        var e = Assert.Throws<InvalidOperationException>(() => sam.step(() =>
        {
            using var kept = KeptScalars.Rent();
            var l = Loss(ps).mul(kept[double.NaN]);
            l.backward();
            return l;
        }));
        Assert.Contains("nothing was changed", e.Message);
        for (int k = 0; k < ps.Length; k++) Assert.True(TestData.Identical(ps[k], before[k]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SharpnessAware(new SGD(ps), rho: -1));
    }
}
