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
/// Weight stages against their papers' equations, written out here over plain tensors: Lookahead (Zhang et al.
/// 2019, Alg. 1), an exponential moving average, SWA's running mean (Izmailov et al. 2018).
/// </summary>
public class WeightStageTests
{
    const double Lr = 0.05;

    static Tensor[] Clones(Parameter[] parameters) => parameters.Select(p => p.detach().clone()).ToArray();

    /// <summary>The fast weights by hand: θ ← θ − lr·g.</summary>
    static void SgdByHand(Tensor[] theta, int step)
    {
        using var kept = KeptScalars.Rent();
        for (int k = 0; k < theta.Length; k++) theta[k] = theta[k] - TestData.Gradient(step, k, theta[k].dtype).mul(kept[Lr]);
    }

    static void AssertClose(Tensor[] expected, System.Collections.Generic.IReadOnlyList<Tensor> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int k = 0; k < expected.Length; k++)
        {
            double error = (expected[k] - actual[k]).abs().max().to(ScalarType.Float64).item<double>();
            Assert.True(error <= tolerance, $"{what} {k}: off by {error}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lookahead_follows_the_papers_algorithm_over_a_declared_or_a_TorchSharp_optimizer(bool torchSharpInner)
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
#pragma warning disable RS0030 // a TorchSharp optimizer on purpose (what is tested is composing with one); its step() still passes temporary Scalars
        optim.Optimizer inner = torchSharpInner ? torch.optim.SGD(parameters, Lr) : new SGD(parameters, lr: Lr);
#pragma warning restore RS0030
        using var opt = inner.Compose(new Lookahead(k: 3, alpha: 0.4));

        var theta = Clones(parameters);
        var slow = Clones(parameters);
        for (int step = 1; step <= 10; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();

            SgdByHand(theta, step);
            if (step % 3 == 0)
                for (int k = 0; k < theta.Length; k++)
                {
                    slow[k] = slow[k].Plus((theta[k] - slow[k]).mul(kept[0.4]));
                    theta[k] = slow[k].clone();
                }
        }
        AssertClose(theta, parameters, 1e-14, "parameter");
        AssertClose(slow, opt.Stage<Lookahead>().SlowWeights, 1e-14, "slow weight");
    }

    [Fact]
    public void Ema_averages_from_the_starting_weights_with_a_scheduled_decay()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        static double Decay(long t) => Math.Min(0.9, (1 + t) / (10.0 + t));
        var ema = WeightAverage.Ema(Schedules.Of(Decay));
        using var opt = new SGD(parameters, lr: Lr).Compose(ema);

        var theta = Clones(parameters);
        var average = Clones(parameters);
        for (int step = 1; step <= 12; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
            SgdByHand(theta, step);
            double d = Decay(step - 1);
            for (int k = 0; k < theta.Length; k++) average[k] = average[k].mul(kept[d]).Plus(theta[k].mul(kept[(1 - d)]));
        }
        AssertClose(theta, parameters, 1e-14, "parameter");
        AssertClose(average, ema.Averages, 1e-14, "average");
        Assert.Equal(13, ema.Count);
    }

    [Fact]
    public void Swa_is_the_mean_of_the_weights_from_its_start_at_its_interval()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        var swa = WeightAverage.Swa(start: 3, every: 2);
        using var opt = new SGD(parameters, lr: Lr, momentum: 0.9).Compose(swa);
        var reference = TestData.Parameters(ScalarType.Float64);
        using var plain = new SGD(reference, lr: Lr, momentum: 0.9);

        var sum = reference.Select(p => torch.zeros_like(p)).ToArray();
        for (int step = 1; step <= 9; step++)
        {
            TestData.SetGradients(parameters, step);
            TestData.SetGradients(reference, step);
            opt.step();
            plain.step();
            if (step is 3 or 5 or 7 or 9)
                for (int k = 0; k < sum.Length; k++) sum[k] = sum[k].Plus(reference[k].detach());
        }
        Assert.Equal(4, swa.Count);
        AssertClose(sum.Select(s => s.div(kept[4])).ToArray(), swa.Averages, 1e-14, "average");
    }

    [Fact]
    public void SwapIn_puts_the_average_into_the_model_and_back_and_refuses_training_meanwhile()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var ema = WeightAverage.Ema(0.8);
        using var opt = new AdamW(parameters, lr: 0.01).Compose(ema);
        Assert.Throws<InvalidOperationException>(() => ema.SwapIn());
        for (int step = 1; step <= 4; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        var trained = Clones(parameters);

        using (ema.SwapIn())
        {
            Assert.True(ema.IsSwappedIn);
            for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(ema.Averages[k], parameters[k]));
            TestData.SetGradients(parameters, 5);
            var e = Assert.Throws<InvalidOperationException>(() => opt.step());
            Assert.Contains("swapped into the model", e.Message);
            Assert.Throws<InvalidOperationException>(() => ema.SwapIn());
        }
        Assert.False(ema.IsSwappedIn);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(trained[k], parameters[k]));
        opt.step();
        Assert.Equal(5, opt.StepCount);
    }

    [Fact]
    public void Disposing_the_optimizer_swaps_the_trained_weights_back()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var ema = WeightAverage.Ema(0.5);
        var opt = new SGD(parameters, lr: Lr).Compose(ema);
        TestData.SetGradients(parameters, 1);
        opt.step();
        var trained = Clones(parameters);
        ema.SwapIn();
        opt.Dispose();
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(trained[k], parameters[k]));
    }

    [Fact]
    public void Averages_of_half_precision_weights_are_kept_in_float32()
    {
        var parameters = TestData.Parameters(ScalarType.BFloat16);
        var ema = WeightAverage.Ema(0.99);
        using var opt = new SGD(parameters, lr: Lr).Compose(ema, new Lookahead());
        for (int step = 1; step <= 6; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        Assert.All(ema.Averages, a => Assert.Equal(ScalarType.Float32, a.dtype));
        Assert.All(opt.Stage<Lookahead>().SlowWeights, a => Assert.Equal(ScalarType.Float32, a.dtype));
        using (ema.SwapIn())
            for (int k = 0; k < parameters.Length; k++)
                Assert.True(TestData.Identical(ema.Averages[k].to(ScalarType.BFloat16), parameters[k]));
    }

    [Fact]
    public void An_invalid_scheduled_decay_stops_the_step_before_anything_changes()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var ema = WeightAverage.Ema(Schedules.Linear(0.9, 1.1, 4));
        using var opt = new AdamW(parameters).Compose(new ClipGradNorm(0.1), ema);
        for (int step = 1; step <= 3; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        TestData.SetGradients(parameters, 4);
        var weights = Clones(parameters);
        var grads = parameters.Select(p => p.grad!.clone()).ToArray();
        var averages = ema.Averages.Select(a => a.clone()).ToArray();

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => opt.step());
        Assert.Contains("step 3", e.Message);
        Assert.Equal(3, opt.StepCount);
        Assert.Equal(3, ((AdamW)opt.Inner).StepCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(weights[k], parameters[k]));
            Assert.True(TestData.Identical(grads[k], parameters[k].grad!));
            Assert.True(TestData.Identical(averages[k], ema.Averages[k]));
        }
    }

    [Fact]
    public void Weight_stages_check_their_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lookahead(k: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lookahead(alpha: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lookahead(alpha: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightAverage.Ema(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightAverage.Ema(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightAverage.Swa(start: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightAverage.Swa(start: 5, every: 0));
    }

    [Fact]
    public void The_weight_decay_mask_keeps_biases_and_gains_from_decaying()
    {
        using var kept = KeptScalars.Rent();
        var weight = new Parameter(TestData.Gradient(1, 0, ScalarType.Float32));
        var bias = new Parameter(TestData.Gradient(1, 1, ScalarType.Float32));
        var named = new[] { ("layer.weight", weight), ("layer.bias", bias) };
        var groups = ParameterGroups.WeightDecayMask<AdamW.Options>(named);
        using var opt = new AdamW(groups, lr: 0.1, weightDecay: 0.5);
        Assert.Equal(0.5, opt.OptionsOf(0)["weightDecay"]);
        Assert.Equal(0, opt.OptionsOf(1)["weightDecay"]);

        // With zero gradients AdamW's step is its decay alone: p *= 1 - lr * weightDecay.
        var (w0, b0) = (weight.detach().clone(), bias.detach().clone());
        using (torch.no_grad())
        {
            weight.grad = torch.zeros_like(weight);
            bias.grad = torch.zeros_like(bias);
        }
        opt.step();
        Assert.True(weight.allclose(w0.mul(kept[0.95f]), rtol: 1e-6, atol: 0));
        Assert.True(TestData.Identical(b0, bias));
    }

    [Fact]
    public void Routing_names_a_missing_group_or_hyperparameter()
    {
        var named = new[] { ("a", new Parameter(torch.ones(2))) };
        var e = Assert.Throws<ArgumentException>(() => ParameterGroups.Route<AdamW.Options>(named, (_, _) => 2, new AdamW.Options(), new AdamW.Options()));
        Assert.Contains("group 2", e.Message);
        var h = Assert.Throws<ArgumentException>(() => ParameterGroups.WeightDecayMask<AdamW.Options>(named, weightDecay: "weight_decay"));
        Assert.Contains("weightDecay", h.Message);
    }
}
