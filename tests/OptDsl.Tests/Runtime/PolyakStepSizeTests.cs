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

namespace OptDsl.Tests.Runtime;

/// <summary>SPS_max around SGD against its step written out: x ← x − min(γ_b, (f − f*) / (c‖g‖²)) g.</summary>
public class PolyakStepSizeTests
{
    static readonly Scalar Half = 0.5.ToScalar();
    static readonly Tensor A = TestData.Normal(new long[] { 20, 6 }, 12), B = A.mv(TestData.Normal(new long[] { 6 }, 13)).add(Half, ScalarCalls.One);

    /// <summary>Least squares that the model fits exactly (the targets are a linear function plus 0.5): f* = 0.</summary>
    static Tensor Loss(Tensor w, Tensor bias) => (A.mv(w).Plus(bias) - B).Squared().mean();

    [Theory]
    [InlineData(0.0, 0.5, 1.0)]
    [InlineData(0.3, 1.0, 0.05)]
    public void Follows_the_step_written_out(double optimalLoss, double c, double maxLr)
    {
        using var kept = KeptScalars.Rent();
        var w = new Parameter(torch.zeros(6, ScalarType.Float64));
        var bias = new Parameter(torch.zeros(1, ScalarType.Float64));
        var (rw, rb) = (torch.zeros(6, ScalarType.Float64), torch.zeros(1, ScalarType.Float64));
        var sps = new PolyakStepSize(new SGD(new[] { w, bias }, lr: 123), optimalLoss, c, maxLr);
        double first = Loss(w, bias).item<double>();
        for (int step = 0; step < 20; step++)
        {
            sps.zero_grad();
            sps.step(() => { var l = Loss(w, bias); l.backward(); return l; });

            var (lw, lb) = (rw.clone().requires_grad_(true), rb.clone().requires_grad_(true));
            var loss = Loss(lw, lb);
            loss.backward();
            double squared = lw.grad!.Squared().sum().item<double>() + lb.grad!.Squared().sum().item<double>();
            double rate = Math.Min(maxLr, Math.Max(0, loss.item<double>() - optimalLoss) / (c * squared + 1e-30));
            Assert.Equal(rate, sps.LastLearningRate, 12);
            (rw, rb) = (rw - lw.grad!.mul(kept[rate]), rb - lb.grad!.mul(kept[rate]));
        }
        Assert.True(w.allclose(rw, rtol: 1e-10, atol: 1e-12) && bias.allclose(rb, rtol: 1e-10, atol: 1e-12), $"off by {(w - rw).abs().max().item<double>():E2}");
        Assert.True(Loss(w, bias).item<double>() < first, $"loss {first} -> {Loss(w, bias).item<double>()}");
    }

    [Fact]
    public void It_needs_the_loss_and_refuses_a_non_finite_one_before_anything_changes()
    {
        var w = new Parameter(torch.ones(6, ScalarType.Float64));
        var sps = new PolyakStepSize(new SGD(new[] { w }, lr: 0.1));
        Assert.Throws<ArgumentException>(() => sps.step());
        Assert.Throws<InvalidOperationException>(() => sps.step(() => { using var kept = KeptScalars.Rent();
var l = A.mv(w).mul(kept[double.PositiveInfinity]).sum(); l.backward(); return l; }));
        Assert.True(TestData.Identical(w, torch.ones(6, ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PolyakStepSize(new SGD(new[] { w }), c: 0));
    }
}
