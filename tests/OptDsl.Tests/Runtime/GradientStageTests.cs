using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Gradient stages against independent references: libtorch's own <c>clip_grad_norm_</c> / <c>clip_grad_value_</c>
/// (through TorchSharp) and the formulas written out here; accumulation against one large batch.
/// </summary>
public class GradientStageTests
{

    /// <summary>Gradients of <paramref name="step"/>, times <paramref name="scale"/> (large scales make clipping bite).</summary>
    static void SetGradients(Parameter[] parameters, int step, double scale)
    {
        using var kept = KeptScalars.Rent();
        TestData.SetGradients(parameters, step);
        using var _ = torch.no_grad();
        foreach (var p in parameters)
        {
            using var g = p.grad!;
            g.mul_(kept[scale]);
        }
    }

    /// <summary>Plain SGD done by hand: p -= lr * g.</summary>
    static void SgdByHand(Parameter[] parameters, double lr)
    {
        using var kept = KeptScalars.Rent();
        using var _ = torch.no_grad();
        foreach (var p in parameters)
        {
            using var g = p.grad!;
            p.sub_(g.mul(kept[lr]));
        }
    }

    static void AssertClose(Parameter[] expected, Parameter[] actual, double tolerance)
    {
        for (int k = 0; k < expected.Length; k++)
        {
            double error = (expected[k] - actual[k]).abs().max().to(ScalarType.Float64).item<double>();
            Assert.True(error <= tolerance, $"parameter {k}: off by {error}");
        }
    }

    [Theory]
    [InlineData(2.0, 1.0)]
    [InlineData(1.0, 3.0)]
    [InlineData(double.PositiveInfinity, 0.5)]
    [InlineData(3.0, 100.0)] // above the norm: nothing is clipped
    public void ClipGradNorm_matches_libtorch_clip_grad_norm_over_several_steps(double normType, double maxNorm)
    {
        var ours = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(ours);
        using var opt = new SGD(ours, lr: 0.1).Compose(new ClipGradNorm(maxNorm, normType));
        var clip = opt.Stage<ClipGradNorm>();

        for (int step = 1; step <= 5; step++)
        {
            SetGradients(ours, step, 4.0);
            SetGradients(reference, step, 4.0);
            double norm = torch.nn.utils.clip_grad_norm_(reference, maxNorm, normType);
            SgdByHand(reference, 0.1);
            opt.step();
            // Same formula in both; summation order may differ in the last bits.
            Assert.Equal(norm, clip.LastNorm!.item<double>(), 1e-12 * norm);
        }
        AssertClose(reference, ours, 1e-13);
    }

    [Fact]
    public void ClipGradNorm_leaves_small_gradients_bit_for_bit()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new SGD(parameters).Compose(new ClipGradNorm(1e6));
        TestData.SetGradients(parameters, 1);
        var before = parameters.Select(p => p.grad!.clone()).ToArray();
        opt.Stage<ClipGradNorm>().BeforeUpdate(new StageContext(parameters, 0));
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(before[k], parameters[k].grad!));
    }

    [Fact]
    public void ClipGradNormPerTensor_scales_each_gradient_by_its_own_norm()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        using var opt = new SGD(parameters).Compose(new ClipGradNormPerTensor(0.75));
        SetGradients(parameters, 2, 3.0);
        var expected = parameters.Select(p =>
        {
            using var kept = KeptScalars.Rent();
            var g = p.grad!.clone();
            double norm = Math.Sqrt(g.pow(kept[2]).sum().item<double>());
            return g.mul(kept[Math.Min(1.0, 0.75 / (norm + 1e-6))]);
        }).ToArray();
        opt.Stage<ClipGradNormPerTensor>().BeforeUpdate(new StageContext(parameters, 0));
        for (int k = 0; k < parameters.Length; k++)
            Assert.True(parameters[k].grad!.allclose(expected[k], rtol: 1e-14, atol: 0), $"parameter {k}");
    }

    [Fact]
    public void ClipGradValue_matches_libtorch_clip_grad_value_()
    {
        var ours = TestData.Parameters(ScalarType.Float32);
        var reference = TestData.Copies(ours);
        using var opt = new SGD(ours, lr: 0.1).Compose(new ClipGradValue(0.3));
        for (int step = 1; step <= 3; step++)
        {
            SetGradients(ours, step, 2.0);
            SetGradients(reference, step, 2.0);
            torch.nn.utils.clip_grad_value_(reference, 0.3);
            SgdByHand(reference, 0.1);
            opt.step();
        }
        AssertClose(reference, ours, 0);
    }

    [Fact]
    public void A_nonfinite_norm_throws_before_anything_changes_when_asked_to()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new AdamW(parameters).Compose(new ClipGradNorm(1.0, errorIfNonfinite: true));
        TestData.SetGradients(parameters, 1);
        using (torch.no_grad()) parameters[1].grad![3] = double.NaN;
        var weights = parameters.Select(p => p.clone()).ToArray();
        var grads = parameters.Select(p => p.grad!.clone()).ToArray();

        var e = Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Contains("not finite", e.Message);
        Assert.Equal(0, opt.StepCount);
        Assert.Equal(0, ((AdamW)opt.Inner).StepCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(weights[k], parameters[k]));
            Assert.True(TestData.Identical(grads[k].nan_to_num(), parameters[k].grad!.nan_to_num()), $"gradient {k} changed");
        }
    }

    [Fact]
    public void An_invalid_scheduled_hyperparameter_stops_the_step_before_gradients_are_clipped()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var adamw = new AdamW(parameters, lr: 0.01);
        adamw.Schedule("lr", Schedules.Linear(0.01, -0.01, 2));
        using var opt = adamw.Compose(new ClipGradNorm(0.01));
        TestData.SetGradients(parameters, 1);
        opt.step();
        opt.step();

        TestData.SetGradients(parameters, 3);
        var weights = parameters.Select(p => p.clone()).ToArray();
        var grads = parameters.Select(p => p.grad!.clone()).ToArray();
        var e = Assert.Throws<ArgumentException>(() => opt.step());
        Assert.Contains("'lr'", e.Message);
        Assert.Equal(2, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(weights[k], parameters[k]));
            Assert.True(TestData.Identical(grads[k], parameters[k].grad!), "the gradient was clipped although the step failed");
        }
    }

    /// <summary>A least-squares problem: 8 samples, a 4 -> 3 linear layer, in float64.</summary>
    sealed class Regression
    {
        public readonly Tensor X = Grid(1, 8, 4), Y = Grid(2, 8, 3);
        public readonly Parameter W = new(Grid(3, 3, 4)), B = new(Grid(4, 3, 1).reshape(3));

        static Tensor Grid(int seed, long rows, long cols) =>
            torch.tensor(Enumerable.Range(0, (int)(rows * cols)).Select(i => TestData.GridValue(seed, i)).ToArray(), dtype: ScalarType.Float64).reshape(rows, cols);

        public Parameter[] Parameters => new[] { W, B };

        /// <summary>The mean squared error over samples [from, from + count).</summary>
        public Tensor Loss(int from, int count)
        {
            using var kept = KeptScalars.Rent();
            var x = X.narrow(0, from, count);
            var y = Y.narrow(0, from, count);
            return (torch.nn.functional.linear(x, W, B) - y).pow(kept[2]).mean();
        }
    }

    [Fact]
    public void Accumulating_four_micro_batches_equals_one_step_on_the_whole_batch()
    {
        var whole = new Regression();
        var micro = new Regression();
        using var plain = new AdamW(whole.Parameters, lr: 0.05);
        using var accumulated = new AdamW(micro.Parameters, lr: 0.05).Compose(new AccumulateGradients(4), new ClipGradNorm(10.0));

        for (int update = 0; update < 6; update++)
        {
            plain.zero_grad();
            whole.Loss(0, 8).backward();
            torch.nn.utils.clip_grad_norm_(whole.Parameters, 10.0);
            plain.step();

            for (int m = 0; m < 4; m++)
            {
                accumulated.zero_grad();
                micro.Loss(2 * m, 2).backward();
                accumulated.step();
                Assert.Equal(update + (m == 3 ? 1 : 0), accumulated.StepCount);
            }
        }

        Assert.Equal(6, ((AdamW)accumulated.Inner).StepCount);
        // The mean of four 2-sample means is the 8-sample mean; only the summation order differs.
        Assert.True(whole.W.allclose(micro.W, rtol: 0, atol: 1e-14));
        Assert.True(whole.B.allclose(micro.B, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void Zero_grad_waits_for_the_end_of_the_accumulation_window()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new SGD(parameters).Compose(new AccumulateGradients(2));
        TestData.SetGradients(parameters, 1);
        opt.step();
        opt.zero_grad();
        Assert.False(parameters[0].grad!.eq(kept[0]).all().item<bool>());
        Assert.Equal(1, opt.Stage<AccumulateGradients>().Pending);
        opt.step();
        opt.zero_grad();
        Assert.True(parameters[0].grad!.eq(kept[0]).all().item<bool>());
    }

    [Fact]
    public void Stages_are_checked_when_composed()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => new SGD(parameters).Compose(new ClipGradNorm(1), new AccumulateGradients(2)));
        Assert.Contains("must be the first stage", e.Message);

        var shared = new ClipGradNorm(1);
        using var first = new SGD(parameters).Compose(shared);
        Assert.Throws<ArgumentException>(() => new SGD(TestData.Parameters(ScalarType.Float32)).Compose(shared));
        var twice = new ClipGradValue(1);
        Assert.Throws<ArgumentException>(() => new SGD(TestData.Parameters(ScalarType.Float32)).Compose(twice, twice));
        Assert.Throws<ArgumentException>(() => first.Compose(new ClipGradValue(1)));

        Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNorm(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNorm(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNorm(1, normType: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradNormPerTensor(double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClipGradValue(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AccumulateGradients(0));
    }

    [Fact]
    public void TorchSharp_schedulers_drive_the_inner_learning_rate_through_the_composed_optimizer()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new AdamW(parameters, lr: 0.1).Compose(new ClipGradNorm(1));
        var scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size: 2, gamma: 0.5);
        for (int step = 1; step <= 4; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
            scheduler.step();
        }
        Assert.Equal(0.025, ((AdamW)opt.Inner).OptionsOf(0).LearningRate!.Value, 12);
    }

    [Fact]
    public void Adaptive_clipping_bounds_each_units_gradient_by_its_weights_norm()
    {
        using var kept = KeptScalars.Rent();
        // Brock et al. 2021, §4.1, one unit at a time in plain loops: a matrix row (all dimensions but the first) or
        // a whole vector; G_i is scaled to λ·max(‖W_i‖, ε)/‖G_i‖ where ‖G_i‖ exceeds λ·max(‖W_i‖, ε).
        const double lambda = 0.05, eps = 1e-3;
        var parameters = TestData.Parameters(ScalarType.Float64);
        using (torch.no_grad()) parameters[2].zero_(); // a unit at zero weight: bounded by ε
        SetGradients(parameters, 3, 0.02);
        var expected = new Tensor[parameters.Length];
        int clipped = 0, unclipped = 0;
        for (int k = 0; k < parameters.Length; k++)
        {
            var w = parameters[k].detach();
            var g = parameters[k].grad!.clone();
            var units = w.dim() <= 1 ? new[] { (w, g) } : Enumerable.Range(0, (int)w.shape[0]).Select(i => (w[i], g[i])).ToArray();
            foreach (var (wi, gi) in units)
            {
                double bound = lambda * Math.Max(Math.Sqrt(wi.Squared().sum().item<double>()), eps);
                double norm = Math.Sqrt(gi.Squared().sum().item<double>());
                if (norm > bound) { gi.mul_(kept[bound / norm]); clipped++; }
                else unclipped++;
            }
            expected[k] = w - g; // SGD with lr 1 steps by the clipped gradient
        }
        Assert.True(clipped > 0 && unclipped > 0, $"{clipped} clipped and {unclipped} kept: the case should have both");

        using var opt = new SGD(parameters, lr: 1).Compose(new AdaptiveGradientClip(lambda, eps));
        opt.step();
        for (int k = 0; k < parameters.Length; k++)
            Assert.True(parameters[k].allclose(expected[k], rtol: 1e-12, atol: 1e-15), $"parameter {k}");

        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveGradientClip(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveGradientClip(0.01, double.NaN));
    }
}
