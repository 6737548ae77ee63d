using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The edges of the composition stages that their main tests pass by: settings on the boundary of what is allowed, a
/// non-finite norm that is not asked to throw, the norm tensors a clipping stage keeps. Each expectation comes from the
/// stage's contract or from PyTorch's <c>clip_grad_norm_</c>, not from the code.
/// </summary>
public class StageEdgeTests
{
    [Fact]
    public void Clipping_refuses_a_zero_or_infinite_bound_and_a_zero_norm_type()
    {
        Assert.Equal("clipValue", Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradValue(0)).ParamName);
        Assert.Equal("clipValue", Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradValue(double.PositiveInfinity)).ParamName);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNorm(1, normType: 0)).ParamName);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNormPerTensor(1, normType: 0)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNormPerTensor(0)).ParamName);
    }

    [Fact]
    public void Without_errorIfNonfinite_a_NaN_norm_spreads_into_every_gradient_as_in_PyTorch()
    {
        // PyTorch (error_if_nonfinite=False): clip_coef = max_norm / (nan + 1e-6) is NaN, clamp(max=1) keeps it NaN,
        // and every gradient is multiplied by it. No exception.
        var parameters = TestData.Parameters(ScalarType.Float64);
        using var opt = new SGD(parameters).Compose(new ClipGradNorm(1.0));
        TestData.SetGradients(parameters, 1);
        using (torch.no_grad()) parameters[2].grad![0] = double.NaN;
        var clip = opt.Stage<ClipGradNorm>();
        clip.BeforeUpdate(new StageContext(parameters, 0));
        Assert.True(double.IsNaN(clip.LastNorm!.item<double>()));
        foreach (var p in parameters) Assert.True(p.grad!.isnan().all().item<bool>());
    }

    [Fact]
    public void The_global_norm_of_float32_gradients_is_kept_in_float32()
    {
        // As torch.nn.utils.clip_grad_norm_ returns it: the norm of float32 gradients is a float32 tensor.
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new SGD(parameters).Compose(new ClipGradNorm(1.0));
        TestData.SetGradients(parameters, 1);
        opt.step();
        Assert.Equal(ScalarType.Float32, opt.Stage<ClipGradNorm>().LastNorm!.dtype);
    }

    [Fact]
    public void A_clipping_stage_frees_its_last_norm_when_it_takes_the_next_and_when_disposed()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new SGD(parameters).Compose(new ClipGradNorm(1.0));
        var clip = opt.Stage<ClipGradNorm>();
        TestData.SetGradients(parameters, 1);
        opt.step();
        var first = clip.LastNorm!;
        TestData.SetGradients(parameters, 2);
        opt.step();
        var second = clip.LastNorm!;
        Assert.True(first.IsInvalid, "the first step's norm was not freed");
        Assert.False(second.IsInvalid);
        opt.Dispose();
        Assert.True(second.IsInvalid, "the last norm outlived the optimizer");
        Assert.Null(clip.LastNorm);
    }

    /// <summary>The largest difference between <paramref name="a"/> and <paramref name="b"/>.</summary>
    static double Distance(Tensor a, Tensor b) => (a - b).abs().max().to(ScalarType.Float64).item<double>();

    [Fact]
    public void Accumulating_over_one_micro_step_updates_at_every_step()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        using var opt = new SGD(parameters, lr: 0.1).Compose(new AccumulateGradients(1));
        for (int step = 1; step <= 3; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
            Assert.Equal(step, opt.StepCount);
        }
    }

    [Fact]
    public void Accumulating_without_averaging_steps_on_the_sum_of_the_micro_batches_gradients()
    {
        // p <- p - lr (g1 + g2), the gradients added as backward() adds them.
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        var expected = parameters.Select((p, k) => p.detach() - TestData.Gradient(1, k, ScalarType.Float64).Plus(TestData.Gradient(2, k, ScalarType.Float64)).mul(kept[0.1])).ToArray();
        using var opt = new SGD(parameters, lr: 0.1).Compose(new AccumulateGradients(2, average: false));
        TestData.AddGradients(parameters, 1);
        opt.step();
        opt.zero_grad();
        TestData.AddGradients(parameters, 2);
        opt.step();
        Assert.Equal(1, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++) Assert.True(Distance(expected[k], parameters[k]) <= 1e-15, $"parameter {k}");
    }

    [Fact]
    public void Lookahead_with_alpha_one_follows_the_inner_optimizer()
    {
        // phi <- phi + 1 (theta - phi) = theta, and theta <- phi: the synchronisation moves nothing.
        var parameters = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(parameters);
        using var opt = new SGD(parameters, lr: 0.1).Compose(new Lookahead(k: 2, alpha: 1));
        using var plain = new SGD(reference, lr: 0.1);
        for (int step = 1; step <= 4; step++)
        {
            TestData.SetGradients(parameters, step);
            TestData.SetGradients(reference, step);
            opt.step();
            plain.step();
        }
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(Distance(reference[k], parameters[k]) <= 1e-15, $"parameter {k}");
            Assert.True(Distance(reference[k], opt.Stage<Lookahead>().SlowWeights[k]) <= 1e-15, $"slow weight {k}");
        }
    }

    [Fact]
    public void An_ema_with_decay_one_keeps_the_starting_weights_and_with_decay_zero_the_latest()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        var start = TestData.Copies(parameters);
        var frozen = WeightAverage.Ema(1);
        var latest = WeightAverage.Ema(0);
        using var opt = new SGD(parameters, lr: 0.1).Compose(frozen, latest);
        for (int step = 1; step <= 3; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(start[k], frozen.Averages[k]), $"decay 1, parameter {k}");
            Assert.True(Distance(parameters[k], latest.Averages[k]) <= 1e-15, $"decay 0, parameter {k}");
        }
    }

    [Fact]
    public void The_smallest_allowed_settings_are_accepted()
    {
        Assert.Equal(1, new Lookahead(k: 1).K);
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var sophia = new OptDsl.Optimizers.Sophia(parameters);
        Assert.Equal(1, new RefreshEvery(sophia, every: 1, _ => Array.Empty<Tensor>()).Every);
        Assert.Throws<ArgumentNullException>(() => WeightAverage.Ema((OptDsl.Runtime.Services.Schedules.Schedule)null!));
    }

    [Theory]
    [InlineData(1, 1, new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData(2, 3, new[] { 2, 5, 8 })]
    public void Swa_averages_the_weights_after_update_start_and_every_interval_after_it(int start, int every, int[] averaged)
    {
        // The mean of the weights a plain SGD run reaches after the listed updates (counted from 1).
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(parameters);
        var swa = WeightAverage.Swa(start, every);
        using var opt = new SGD(parameters, lr: 0.1).Compose(swa);
        using var plain = new SGD(reference, lr: 0.1);
        Assert.Equal(0, swa.Count);
        var sum = reference.Select(p => torch.zeros_like(p)).ToArray();
        for (int step = 1; step <= 8; step++)
        {
            TestData.SetGradients(parameters, step);
            TestData.SetGradients(reference, step);
            opt.step();
            plain.step();
            if (averaged.Contains(step))
                for (int k = 0; k < sum.Length; k++) sum[k] = sum[k].Plus(reference[k].detach());
        }
        Assert.Equal(averaged.Length, swa.Count);
        for (int k = 0; k < sum.Length; k++)
            Assert.True(Distance(sum[k].div(kept[averaged.Length]), swa.Averages[k]) <= 1e-14, $"parameter {k}");
    }

    [Fact]
    public void Disposing_the_optimizer_frees_the_slow_weights_and_the_averages()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var lookahead = new Lookahead(k: 2);
        var ema = WeightAverage.Ema(0.9);
        var opt = new SGD(parameters, lr: 0.1).Compose(ema, lookahead);
        TestData.SetGradients(parameters, 1);
        opt.step();
        var slow = lookahead.SlowWeights.ToArray();
        var averages = ema.Averages.ToArray();
        opt.Dispose();
        Assert.All(slow, t => Assert.True(t.IsInvalid));
        Assert.All(averages, t => Assert.True(t.IsInvalid));
    }
}
