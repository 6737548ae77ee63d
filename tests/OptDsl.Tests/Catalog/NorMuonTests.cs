using System;
using System.Collections.Generic;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// NorMuon against the authors' reference implementation's equations (normuon.py) and, with <c>rmsMatch</c>, the
/// paper's Algorithm 1 step, written out here in float64.
/// </summary>
public class NorMuonTests
{
    [Theory]
    [InlineData(true, false, 0.0)]
    [InlineData(false, true, 0.1)]
    public void Follows_the_reference_equations(bool nesterov, bool rmsMatch, double weightDecay)
    {
        const double lr = 0.02, momentum = 0.9, beta2 = 0.8, eps = 1e-10;
        var buffers = new Dictionary<int, Tensor>();
        var seconds = new Dictionary<int, Tensor>();
        MatrixReference.Check(
            ps => new NorMuon(ps, lr: lr, momentum: momentum, beta2: beta2, nesterov: nesterov, weightDecay: weightDecay, rmsMatch: rmsMatch),
            (t, k, p, g) =>
            {
                using var kept = KeptScalars.Rent();
                var (rows, columns) = MatrixReference.View(p);
                var u = MatrixReference.Momentum(buffers, k, g, momentum, nesterov, kept);
                var o = MuonTests.Orthogonalize(u.reshape(rows, columns), 5);
                // Each row's mean square, averaged over steps from zero (no bias correction).
                var v = seconds.TryGetValue(k, out var s) ? s : torch.zeros(rows, 1, ScalarType.Float64);
                v = v.mul(kept[beta2]).Plus(o.Squared().mean(new long[] { 1 }, keepdim: true).mul(kept[1 - beta2]));
                seconds[k] = v;
                var normalized = o / v.sqrt().add(kept[eps], ScalarCalls.One);
                double norm = normalized.Squared().sum().sqrt().item<double>();
                double scale = rmsMatch
                    ? 0.2 * Math.Sqrt(rows * columns) / norm
                    : o.Squared().sum().sqrt().item<double>() / (norm + eps) * Math.Sqrt(Math.Max(1.0, (double)rows / columns));
                return p.mul(kept[1 - lr * weightDecay]) - normalized.reshape(p.shape).mul(kept[lr * scale]);
            });
    }

    [Fact]
    public void Without_rmsMatch_its_update_keeps_the_orthogonalised_norm_and_with_it_has_RMS_0_2()
    {
        // One step on a 16 x 48 matrix from zero momentum: the orthogonalised update is NS(g) (the iteration starts by
        // normalising, so the momentum's scale drops out); NorMuon's update has its Frobenius norm, or with rmsMatch
        // an RMS of 0.2.
        var g = TestData.Normal(new long[] { 16, 48 }, 7).to(ScalarType.Float32);
        double orthogonalised = MatrixMath.Orthogonalize(g, 5, 3.4445, -4.7750, 2.0315).Squared().sum().sqrt().item<float>();
        foreach (bool rmsMatch in new[] { false, true })
        {
            var p = new TorchSharp.Modules.Parameter(torch.zeros(16, 48));
            p.grad = g;
            using var optimizer = new NorMuon(new[] { p }, lr: 1, rmsMatch: rmsMatch);
            optimizer.step();
            double norm = p.detach().Squared().sum().sqrt().item<float>();
            if (rmsMatch) Assert.Equal(0.2, norm / Math.Sqrt(16 * 48), 5);
            else Assert.Equal(1.0, norm / orthogonalised, 5);
        }
    }
}
