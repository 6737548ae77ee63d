using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;
using Lion = OptDsl.Optimizers.Lion;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Non-finite gradients: skipped steps leave every parameter, state tensor and counter bit-identical and are counted;
/// a run with a skipped step continues exactly as one that never saw it; composed and routed optimizers skip whole.
/// </summary>
public class NonFiniteGradientTests
{

    static void Poison(Parameter p, double value)
    {
        using var _ = torch.no_grad();
        p.grad![0] = torch.tensor(value, p.grad.dtype);
    }

    static AdamW Scheduled(Parameter[] parameters, UpdateBackend backend)
    {
        var opt = new AdamW(parameters, lr: 0.01, amsgrad: true) { Backend = backend, NonFiniteGradients = NonFiniteGradients.Skip };
        opt.Schedule("lr", Schedules.Cosine(0.01, 0.001, 10));
        return opt;
    }

    [Theory]
    [InlineData(UpdateBackend.Portable, double.NaN)]
    [InlineData(UpdateBackend.Fused, double.PositiveInfinity)]
    [InlineData(UpdateBackend.Fused, double.NegativeInfinity)]
    public void A_skipped_step_changes_nothing_and_the_run_continues_as_if_it_never_came(UpdateBackend backend, double bad)
    {
        // Reference: steps 1-6 with clean gradients.
        var clean = TestData.Parameters(ScalarType.Float32);
        using var reference = Scheduled(clean, backend);
        for (int step = 1; step <= 6; step++) { TestData.SetGradients(clean, step); reference.step(); }

        // The same with a poisoned step between 3 and 4.
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Scheduled(parameters, backend);
        for (int step = 1; step <= 3; step++) { TestData.SetGradients(parameters, step); opt.step(); }
        var before = TestData.Copies(parameters);
        var stateBefore = parameters.Select(p => opt.StateOf(p)).Select(s => (s.Step, M: s.M.clone(), V: s.V.clone(), VMax: s.VMax!.clone())).ToArray();

        TestData.SetGradients(parameters, 99);
        Poison(parameters[2], bad);
        opt.step();

        Assert.Equal(1, opt.SkippedSteps);
        Assert.Equal(3, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True(TestData.Identical(parameters[k], before[k]), $"parameter {k}");
            var s = opt.StateOf(parameters[k]);
            Assert.Equal(stateBefore[k].Step, s.Step);
            Assert.True(TestData.Identical(s.M, stateBefore[k].M) && TestData.Identical(s.V, stateBefore[k].V) && TestData.Identical(s.VMax!, stateBefore[k].VMax), $"state {k}");
        }

        for (int step = 4; step <= 6; step++) { TestData.SetGradients(parameters, step); opt.step(); }
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], clean[k]), $"parameter {k} after the run");
    }

    [Fact]
    public void Throw_names_the_parameter_and_changes_nothing_and_Update_lets_NaN_through()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var before = TestData.Copies(parameters);
        using var opt = new Lion(parameters, lr: 0.01) { NonFiniteGradients = NonFiniteGradients.Throw };
        TestData.SetGradients(parameters, 1);
        Poison(parameters[1], double.NaN);
        var e = Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Contains("shape [33]", e.Message);
        Assert.Equal(0, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]));

        // The default, as PyTorch: no check, and the NaN reaches the state (Lion's sign of NaN moves the weight by NaN).
        opt.NonFiniteGradients = NonFiniteGradients.Update;
        opt.step();
        Assert.Equal(1, opt.StepCount);
        Assert.True(parameters[1].isnan().any().item<bool>());
    }

    [Fact]
    public void A_composed_optimizer_skips_its_weight_stages_too()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        var inner = new AdamW(parameters, lr: 0.01) { NonFiniteGradients = NonFiniteGradients.Skip };
        using var opt = inner.Compose(new AccumulateGradients(2), new ClipGradNorm(1.0), WeightAverage.Ema(0.9));
        for (int m = 0; m < 2; m++) { TestData.SetGradients(parameters, 1); opt.step(); }
        Assert.Equal(1, opt.StepCount);
        var ema = opt.Stage<WeightAverage>().Averages.Select(a => a.clone()).ToArray();
        var before = TestData.Copies(parameters);

        TestData.SetGradients(parameters, 2);
        opt.step();
        Poison(parameters[0], double.PositiveInfinity);
        opt.step(); // completes the window with an infinite gradient: skipped
        Assert.Equal(1, opt.StepCount);
        Assert.Equal(1, inner.SkippedSteps);
        Assert.Equal(0, opt.Stage<AccumulateGradients>().Pending);
        Assert.True(opt.Stage<WeightAverage>().Averages.Zip(ema).All(x => TestData.Identical(x.First, x.Second)));
        Assert.True(parameters.Zip(before).All(x => TestData.Identical(x.First, x.Second)));

        opt.zero_grad(); // the window ended, so the poisoned gradients are cleared
        Assert.True(parameters.All(p => p.grad is null || p.grad.eq(kept[0]).all().item<bool>()));
    }

    [Fact]
    public void A_non_finite_gradient_in_one_route_skips_every_route()
    {
        var named = TestData.Parameters(ScalarType.Float64).Select((p, k) => ($"p{k}", p)).ToArray();
        var parameters = named.Select(n => n.Item2).ToArray();
        using var routed = named.Route("lion", (name, _) => name == "p0", ps => new Lion(ps, lr: 0.01))
            .Otherwise("adamw", ps => new AdamW(ps, lr: 0.01) { NonFiniteGradients = NonFiniteGradients.Skip });
        TestData.SetGradients(parameters, 1);
        routed.step();
        var before = TestData.Copies(parameters);

        TestData.SetGradients(parameters, 2);
        Poison(parameters[3], double.NaN);
        routed.step();
        Assert.Equal(1, routed.StepCount);
        Assert.True(parameters.Zip(before).All(x => TestData.Identical(x.First, x.Second)), "the Lion route moved although the step was skipped");
    }
}
