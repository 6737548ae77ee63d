using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Sophia against the paper's Algorithm 3 written out here over whole float64 tensors: 12 steps on the four test
/// tensors, the Hessian EMA refreshed every third step from estimates the test makes (squares of another gradient,
/// as the Gauss–Newton–Bartlett estimator gives), and the refresh's checks.
/// </summary>
public class SophiaTests
{
    const int Steps = 12, Every = 3;
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.95, Rho = 0.5, Wd = 0.1, Eps = 1e-15;

    static Tensor Estimate(int t, int k, ScalarType dtype)
    {
        using var kept = KeptScalars.Rent();
        return TestData.Gradient(t + 500, k, dtype).Squared().mul(kept[4]);
    }

    static Tensor[] Reference()
    {
        using var kept = KeptScalars.Rent();
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        var m = p.Select(x => torch.zeros_like(x)).ToArray();
        var h = p.Select(x => torch.zeros_like(x)).ToArray();
        for (int t = 1; t <= Steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64);
                m[k] = m[k].mul(kept[Beta1]).Plus(g.mul(kept[(1 - Beta1)]));
                var ratio = (m[k].abs() / h[k].mul(kept[Rho]).add(kept[Eps], ScalarCalls.One)).clamp_max(kept[1]);
                p[k] = p[k].mul(kept[(1 - Lr * Wd)]) - m[k].sign().mul(kept[Lr]) * ratio;
                if (t % Every == 0) h[k] = h[k].mul(kept[Beta2]).Plus(Estimate(t, k, ScalarType.Float64).mul(kept[(1 - Beta2)]));
            }
        return p;
    }

    static Sophia Create(Parameter[] ps) => new(ps, lr: Lr, beta1: Beta1, beta2: Beta2, rho: Rho, weightDecay: Wd);

    /// <summary>
    /// float64: the same operations in another order, 1e-12 relative. float32 (the fused CPU update and the portable
    /// refresh): per-step rounding (1e-7) over 12 steps of at most lr each, 1e-5 absolute. The clip's kink and the sign
    /// are where rounding could flip a branch; the test data puts no element within 1e-6 of either.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 1e-5)]
    public void Follows_the_papers_algorithm(ScalarType dtype, double tolerance)
    {
        using var kept = KeptScalars.Rent();
        var expected = Reference();
        var parameters = TestData.Parameters(dtype);
        using var optimizer = Create(parameters);
        for (int t = 1; t <= Steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
            if (t % Every == 0) optimizer.Refresh(parameters.Select((p, k) => Estimate(t, k, dtype)).ToList());
        }
        Assert.Equal(Steps / Every, optimizer.RefreshCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            var error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
            var scale = dtype == ScalarType.Float64 ? Math.Max(1, expected[k].abs().max().item<double>()) : 1;
            Assert.True(error <= tolerance * scale, $"{dtype} tensor {k}: off by {error:E2}");
        }
        // The clip binds somewhere and not everywhere, so both sides of it were exercised.
        var last = optimizer.StateOf(parameters[0]);
        var r = (last.M.abs() / last.H.mul(kept[Rho]).add(kept[Eps], ScalarCalls.One)).to(ScalarType.Float64);
        Assert.True(r.gt(kept[1]).any().item<bool>() && r.lt(kept[1]).any().item<bool>());
    }

    [Fact]
    public void Refresh_without_estimates_reads_the_gradients()
    {
        var a = TestData.Parameters(ScalarType.Float32);
        var b = TestData.Parameters(ScalarType.Float32);
        using var first = Create(a);
        using var second = Create(b);
        TestData.SetGradients(a, 4);
        TestData.SetGradients(b, 4);
        first.Refresh();
        second.Refresh(b.Select(p => p.grad!.clone()).ToList());
        for (int k = 0; k < a.Length; k++)
        {
            Assert.True(first.StateOf(a[k]).H.equal(second.StateOf(b[k]).H).all().item<bool>());
            Assert.True(first.StateOf(a[k]).H.abs().sum().item<float>() > 0 || TestData.Gradient(4, k, ScalarType.Float32).abs().sum().item<float>() == 0);
        }
    }

    [Fact]
    public void A_bad_estimate_is_refused_before_any_state_changes()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var optimizer = Create(parameters);
        TestData.SetGradients(parameters, 1);
        optimizer.step();
        optimizer.Refresh(parameters.Select((p, k) => Estimate(1, k, ScalarType.Float32)).ToList());
        var before = parameters.Select(p => optimizer.StateOf(p).H.clone()).ToArray();

        var good = parameters.Select((p, k) => Estimate(2, k, ScalarType.Float32)).ToList();
        var nan = good.Select(e => e.clone()).ToList();
        nan[^1][0, 0, 0] = float.NaN;
        var wrongShape = good.Select(e => e.clone()).ToList();
        wrongShape[1] = torch.ones(34);
        var wrongCount = good.Take(3).ToList();
        var nullOne = good.Select(e => (Tensor)e).ToList();
        nullOne[2] = null!;

        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => optimizer.Refresh(nan)).Message);
        Assert.Contains("shape [34]", Assert.Throws<ArgumentException>(() => optimizer.Refresh(wrongShape)).Message);
        Assert.Contains("3 estimates for 4 parameters", Assert.Throws<ArgumentException>(() => optimizer.Refresh(wrongCount)).Message);
        Assert.Contains("estimate 2 is null", Assert.Throws<ArgumentException>(() => optimizer.Refresh(nullOne)).Message);
        for (int k = 0; k < parameters.Length; k++)
            Assert.True(optimizer.StateOf(parameters[k]).H.equal(before[k]).all().item<bool>(), $"tensor {k} changed");
        Assert.Equal(1, optimizer.RefreshCount);
    }

    [Fact]
    public void Optimizers_without_a_refresh_rule_say_so()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var adam = new OptDsl.Optimizers.AdamW(parameters);
        Assert.False(adam.CanRefresh);
        Assert.Contains("declares no [Refresh] rule", Assert.Throws<NotSupportedException>(() => adam.Refresh(null)).Message);
        using var sophia = new Sophia(TestData.Parameters(ScalarType.Float32));
        Assert.True(sophia.CanRefresh);
    }

    [Fact]
    public void The_hessian_estimate_survives_a_checkpoint()
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"sophia-{Guid.NewGuid():N}.ckpt");
        try
        {
            var a = TestData.Parameters(ScalarType.Float32);
            using var first = Create(a);
            TestData.SetGradients(a, 1);
            first.step();
            first.Refresh(a.Select((p, k) => Estimate(1, k, ScalarType.Float32)).ToList());
            first.SaveCheckpoint(path);
            var b = TestData.Parameters(ScalarType.Float32);
            using var second = Create(b);
            second.LoadCheckpoint(path);
            for (int k = 0; k < a.Length; k++)
                Assert.True(first.StateOf(a[k]).H.equal(second.StateOf(b[k]).H).all().item<bool>());
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void RefreshEvery_refreshes_after_every_kth_update_only()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var calls = new List<long>();
        using var inner = Create(parameters);
        var sophia = new OptDsl.Runtime.Composition.RefreshEvery(inner, every: 3, step =>
        {
            calls.Add(step);
            return parameters.Select((p, k) => Estimate((int)step, k, ScalarType.Float32)).ToList();
        });
        for (int t = 1; t <= 7; t++)
        {
            TestData.SetGradients(parameters, t);
            sophia.step();
        }
        Assert.Equal(new long[] { 3, 6 }, calls);
        Assert.Equal(2, inner.RefreshCount);
        Assert.Throws<ArgumentException>(() => new OptDsl.Runtime.Composition.RefreshEvery(new OptDsl.Optimizers.AdamW(TestData.Parameters(ScalarType.Float32)), 3, _ => Array.Empty<Tensor>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OptDsl.Runtime.Composition.RefreshEvery(inner, 0, _ => Array.Empty<Tensor>()));
    }
}
