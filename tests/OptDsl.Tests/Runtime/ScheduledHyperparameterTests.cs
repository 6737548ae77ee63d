using System;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;
using AdEMAMix = OptDsl.Optimizers.AdEMAMix;

namespace OptDsl.Tests.Runtime;

/// <summary>Schedules drive any numeric hyperparameter, per group, evaluated once per step before the update.</summary>
public class ScheduledHyperparameterTests
{
    [Fact]
    public void A_scheduled_beta2_equals_setting_it_by_hand_every_step()
    {
        var scheduled = TestData.Parameters(ScalarType.Float32);
        var byHand = TestData.Parameters(ScalarType.Float32);
        var a = new AdamW(scheduled, lr: 0.01);
        var b = new AdamW(byHand, lr: 0.01);
        var warmup = Schedules.Linear(0.9, 0.999, 8);
        a.Schedule("beta2", warmup).Schedule("weightDecay", Schedules.Cosine(0.1, 0.0, 10));
        for (int step = 0; step < 12; step++)
        {
            b.OptionsOf(0)["beta2"] = warmup.At(step);
            b.OptionsOf(0)["weightDecay"] = Schedules.Cosine(0.1, 0.0, 10).At(step);
            TestData.SetGradients(scheduled, step + 1);
            TestData.SetGradients(byHand, step + 1);
            a.step();
            b.step();
        }
        for (int k = 0; k < scheduled.Length; k++) Assert.True(TestData.Identical(scheduled[k], byHand[k]), $"tensor {k}");
        Assert.Equal(12, a.StepCount);
    }

    [Fact]
    public void A_schedule_can_drive_one_group_only()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new AdEMAMix(new[] { new AdEMAMix.ParamGroup(parameters[..2]), new AdEMAMix.ParamGroup(parameters[2..]) });
        opt.Schedule("alpha", Schedules.Linear(0, 8, 4), group: 1);
        TestData.SetGradients(parameters, 1);
        opt.step();
        TestData.SetGradients(parameters, 2);
        opt.step();
        Assert.Equal(2.0, opt.OptionsOf(0)["alpha"]);
        Assert.Equal(2.0, opt.OptionsOf(1)["alpha"]);
        TestData.SetGradients(parameters, 3);
        opt.step();
        Assert.Equal(4.0, opt.OptionsOf(1)["alpha"]);
    }

    [Fact]
    public void A_schedule_leaving_the_declared_range_fails_the_step_before_any_change()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new AdamW(parameters);
        opt.Schedule("beta1", Schedules.Linear(0.9, 1.2, 4)); // 0.9, 0.975, then 1.05
        TestData.SetGradients(parameters, 1);
        opt.step();
        TestData.SetGradients(parameters, 2);
        opt.step();
        var before = parameters[0].detach().clone();
        TestData.SetGradients(parameters, 3);
        var e = Assert.Throws<ArgumentException>(() => opt.step());
        Assert.Contains("'beta1'", e.Message);
        Assert.Contains("[0, 1)", e.Message);
        Assert.Equal(2, opt.StepCount);
        Assert.Equal(2, opt.StateOf(parameters[0]).Step);
        Assert.True(TestData.Identical(parameters[0], before));
    }

    [Fact]
    public void Flags_and_unknown_names_cannot_be_scheduled()
    {
        var opt = new AdamW(TestData.Parameters(ScalarType.Float32));
        Assert.Contains("flag", Assert.Throws<ArgumentException>(() => opt.Schedule("amsgrad", Schedules.Constant(1))).Message);
        var e = Assert.Throws<ArgumentException>(() => opt.Schedule("beta3", Schedules.Constant(0.5)));
        Assert.Contains("It has: lr, beta1, beta2", e.Message);
    }
}
