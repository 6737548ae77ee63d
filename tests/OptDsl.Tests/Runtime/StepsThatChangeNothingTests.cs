using System;
using System.IO;
using System.Linq;
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
/// A step that is refused (it throws), skipped (non-finite gradients, a hook that says no) or finds no gradient at all
/// changes nothing: the checkpoint written after it is byte for byte the one written before, schedules included.
/// </summary>
public sealed class StepsThatChangeNothingTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-unchanged-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static void Poison(Parameter p, double value)
    {
        using var _ = torch.no_grad();
        p.grad![0] = torch.tensor(value, p.grad.dtype);
    }

    static void ClearGradients(Parameter[] parameters)
    {
        foreach (var p in parameters) p.grad = null;
    }

    /// <summary>The bytes of the checkpoint <paramref name="save"/> writes now.</summary>
    byte[] Bytes(Action<string> save)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.ckpt");
        save(path);
        return File.ReadAllBytes(path);
    }

    static AdamW Scheduled(Parameter[] parameters, NonFiniteGradients nonFinite)
    {
        var opt = new AdamW(new[] { new AdamW.ParamGroup(parameters[..2]), new AdamW.ParamGroup(parameters[2..]) }, lr: 0.01)
        {
            NonFiniteGradients = nonFinite,
        };
        // A schedule of every group and one of a single group that overrides it there: both must be taken back.
        opt.Schedule("lr", Schedules.Linear(0.01, 0.001, 10))
            .Schedule("weightDecay", Schedules.Cosine(0.1, 0.0, 10))
            .Schedule("weightDecay", Schedules.Linear(0.2, 0.0, 10), group: 1);
        return opt;
    }

    /// <summary>Makes the next step of an optimizer over <paramref name="parameters"/> refused or skipped.</summary>
    static void Spoil(string how, Parameter[] parameters)
    {
        TestData.SetGradients(parameters, 3);
        switch (how)
        {
            case "non-finite":
                Poison(parameters[2], double.NaN);
                break;
            case "wrong shape":
                using (torch.no_grad()) parameters[3].grad = torch.ones(3, 3);
                break;
            default:
                throw new ArgumentException(how);
        }
    }

    [Theory]
    [InlineData(NonFiniteGradients.Skip, "non-finite")]
    [InlineData(NonFiniteGradients.Throw, "non-finite")]
    [InlineData(NonFiniteGradients.Update, "wrong shape")]
    public void A_refused_or_skipped_step_leaves_a_declared_optimizers_checkpoint_byte_for_byte_as_it_was(NonFiniteGradients nonFinite, string how)
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Scheduled(parameters, nonFinite);
        for (int step = 1; step <= 2; step++) { TestData.SetGradients(parameters, step); opt.step(); }
        var before = Bytes(opt.SaveCheckpoint);
        double lr = opt.OptionsOf(0).LearningRate!.Value;

        Spoil(how, parameters);
        if (nonFinite == NonFiniteGradients.Skip) opt.step();
        else Assert.ThrowsAny<InvalidOperationException>(() => opt.step());

        Assert.Equal(lr, opt.OptionsOf(0).LearningRate);
        Assert.Equal(2, opt.StepCount);
        Assert.Equal(before, Bytes(opt.SaveCheckpoint));
    }

    [Theory]
    [InlineData(NonFiniteGradients.Skip, false)]
    [InlineData(NonFiniteGradients.Update, true)]
    public void A_refused_or_skipped_step_leaves_a_composed_optimizers_checkpoint_byte_for_byte_as_it_was(NonFiniteGradients nonFinite, bool clippingRefuses)
    {
        // Skipped by the inner optimizer before the stages run, or refused by the clipping stage in the hook, after the
        // inner optimizer has set its scheduled values.
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Scheduled(parameters, nonFinite).Compose(new ClipGradNorm(0.5, errorIfNonfinite: clippingRefuses), WeightAverage.Ema(0.9));
        for (int step = 1; step <= 2; step++) { TestData.SetGradients(parameters, step); opt.step(); }
        var before = Bytes(opt.SaveCheckpoint);

        Spoil("non-finite", parameters);
        if (clippingRefuses) Assert.Contains("ClipGradNorm", Assert.Throws<InvalidOperationException>(() => opt.step()).Message);
        else opt.step();

        Assert.Equal(2, opt.StepCount);
        Assert.Equal(before, Bytes(opt.SaveCheckpoint));

        // A refused step of the inner optimizer too (a gradient of the wrong shape).
        Spoil("wrong shape", parameters);
        Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Equal(before, Bytes(opt.SaveCheckpoint));
    }

    [Fact]
    public void A_route_whose_hook_says_no_leaves_the_routed_checkpoint_byte_for_byte_as_it_was()
    {
        // The first route's hook is the second route's step; the second skips, so the first is told no after it has
        // set its scheduled values.
        var parameters = TestData.Parameters(ScalarType.Float32);
        var named = parameters.Select((p, k) => ($"p{k}", p)).ToArray();
        using var routed = named.Route("lion", (name, _) => name == "p0", ps => new Lion(ps, lr: 0.01).Schedule("lr", Schedules.Linear(0.01, 0.0, 10)))
            .Otherwise("adamw", ps => new AdamW(ps, lr: 0.01) { NonFiniteGradients = NonFiniteGradients.Skip });
        for (int step = 1; step <= 2; step++) { TestData.SetGradients(parameters, step); routed.step(); }
        var before = Bytes(routed.SaveCheckpoint);

        Spoil("non-finite", parameters);
        routed.step();

        Assert.Equal(2, routed.StepCount);
        Assert.Equal(before, Bytes(routed.SaveCheckpoint));
    }

    [Fact]
    public void A_step_without_any_gradient_is_not_counted_and_moves_no_schedule()
    {
        var reference = TestData.Parameters(ScalarType.Float32);
        using var straight = Scheduled(reference, NonFiniteGradients.Update);
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Scheduled(parameters, NonFiniteGradients.Update);
        for (int step = 1; step <= 2; step++)
        {
            TestData.SetGradients(reference, step);
            straight.step();
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        var before = Bytes(opt.SaveCheckpoint);

        ClearGradients(parameters);
        opt.step();

        Assert.Equal(2, opt.StepCount);
        Assert.Equal(before, Bytes(opt.SaveCheckpoint));

        // The run goes on as one that never took the empty step: the schedules resume where they were.
        for (int step = 3; step <= 5; step++)
        {
            TestData.SetGradients(reference, step);
            straight.step();
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        Assert.Equal(5, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], reference[k]), $"parameter {k}");
    }

    [Fact]
    public void A_composed_step_without_any_gradient_runs_no_stage_and_is_not_counted()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Scheduled(parameters, NonFiniteGradients.Update).Compose(new ClipGradNorm(0.5), new Lookahead(k: 2, alpha: 0.5), WeightAverage.Ema(0.9));
        TestData.SetGradients(parameters, 1);
        opt.step();
        var before = Bytes(opt.SaveCheckpoint);

        ClearGradients(parameters);
        opt.step();

        Assert.Equal(1, opt.StepCount);
        Assert.Equal(1, ((AdamW)opt.Inner).StepCount);
        Assert.Equal(before, Bytes(opt.SaveCheckpoint));
    }

    [Fact]
    public void A_routed_step_counts_when_some_route_has_gradients_and_not_when_none_has()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var named = parameters.Select((p, k) => ($"p{k}", p)).ToArray();
        using var routed = named.Route("lion", (name, _) => name == "p0", ps => new Lion(ps, lr: 0.01))
            .Otherwise("adamw", ps => new AdamW(ps, lr: 0.01));
        var lion = (Lion)routed["lion"]!;
        var adamw = (AdamW)routed["adamw"]!;

        TestData.SetGradients(parameters, 1);
        parameters[0].grad = null;
        routed.step();
        Assert.Equal((1L, 0L, 1L), (routed.StepCount, lion.StepCount, adamw.StepCount));

        TestData.SetGradients(parameters, 2);
        foreach (var p in parameters[1..]) p.grad = null;
        routed.step();
        Assert.Equal((2L, 1L, 1L), (routed.StepCount, lion.StepCount, adamw.StepCount));

        var before = Bytes(routed.SaveCheckpoint);
        ClearGradients(parameters);
        routed.step();
        Assert.Equal((2L, 1L, 1L), (routed.StepCount, lion.StepCount, adamw.StepCount));
        Assert.Equal(before, Bytes(routed.SaveCheckpoint));
    }
}
