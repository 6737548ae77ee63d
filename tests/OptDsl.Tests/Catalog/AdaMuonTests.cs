using System;
using System.Collections.Generic;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// AdaMuon against the paper's sign-stabilised update and the authors' released code's equations (adamuon.py), written
/// out here in float64.
/// </summary>
public class AdaMuonTests
{
    [Theory]
    [InlineData(true, true, 0.0)]
    [InlineData(false, false, 0.1)]
    public void Follows_the_reference_equations(bool signMomentum, bool nesterov, double weightDecay)
    {
        const double lr = 1e-3, momentum = 0.9, beta2 = 0.99, eps = 1e-8;
        var buffers = new Dictionary<int, Tensor>();
        var seconds = new Dictionary<int, Tensor>();
        MatrixReference.Check(
            ps => new AdaMuon(ps, lr: lr, momentum: momentum, beta2: beta2, nesterov: nesterov, signMomentum: signMomentum, weightDecay: weightDecay),
            (t, k, p, g) =>
            {
                using var kept = KeptScalars.Rent();
                var (rows, columns) = MatrixReference.View(p);
                var u = MatrixReference.Momentum(buffers, k, g, momentum, nesterov, kept);
                var o = MuonTests.Orthogonalize((signMomentum ? u.sign() : u).reshape(rows, columns), 5).reshape(p.shape);
                var v = seconds.TryGetValue(k, out var s) ? s : torch.zeros_like(p);
                v = v.mul(kept[beta2]).Plus(o.Squared().mul(kept[1 - beta2]));
                seconds[k] = v;
                var normalized = o / v.div(kept[1 - Math.Pow(beta2, t)]).sqrt().add(kept[eps], ScalarCalls.One);
                double scale = 0.2 * Math.Sqrt(rows * columns) / (normalized.Squared().sum().sqrt().item<double>() + eps);
                return p.mul(kept[1 - lr * weightDecay]) - normalized.mul(kept[lr * scale]);
            });
    }

    [Fact]
    public void Its_first_step_is_the_sign_of_the_orthogonalised_update_at_Adams_RMS()
    {
        // At step 1 the bias-corrected second moment is o², so the normalised update is sign(o) (up to eps) and the
        // rescaled update has RMS 0.2 exactly: every element moves by lr·0.2.
        var p = new TorchSharp.Modules.Parameter(torch.zeros(16, 48));
        p.grad = TestData.Normal(new long[] { 16, 48 }, 9).to(ScalarType.Float32);
        using var optimizer = new AdaMuon(new[] { p }, lr: 1, weightDecay: 0);
        optimizer.step();
        var moved = p.detach().abs();
        Assert.Equal(0.2, moved.min().item<float>(), 4);
        Assert.Equal(0.2, moved.max().item<float>(), 4);
    }
}
