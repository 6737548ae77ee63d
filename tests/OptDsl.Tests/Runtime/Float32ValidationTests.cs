using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Adafactor = OptDsl.Optimizers.Adafactor;
using AdamW = OptDsl.Optimizers.AdamW;
using Prodigy = OptDsl.Optimizers.Prodigy;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Real hyperparameters are held in double but used in float32: a value is checked as the float32 it becomes, wherever
/// values are checked (constructor, parameter groups, options set later, schedules, checkpoint loads).
/// </summary>
public sealed class Float32ValidationTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-float32-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void An_eps_that_float32_makes_zero_is_refused_naming_the_value_and_what_float32_makes_of_it()
    {
        var e = Assert.Throws<ArgumentException>(() => new AdamW(TestData.Parameters(ScalarType.Float32), eps: 1e-50));
        Assert.Contains("'eps' of the defaults", e.Message);
        Assert.Contains("is 1E-50, which float32", e.Message);
        Assert.Contains("makes 0, outside its declared range (0, inf)", e.Message);
    }

    [Fact]
    public void An_eps_that_float32_makes_subnormal_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new AdamW(TestData.Parameters(ScalarType.Float32), eps: 1e-40));
        Assert.Contains("'eps'", e.Message);
        Assert.Contains("subnormal", e.Message);
        Assert.Contains("1.1754944E-38", e.Message);
    }

    [Fact]
    public void A_learning_rate_beyond_the_largest_float32_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new AdamW(TestData.Parameters(ScalarType.Float32), lr: 1e39));
        Assert.Contains("'lr'", e.Message);
        Assert.Contains("is 1E+39, which float32", e.Message);
        Assert.Contains("makes infinity", e.Message);
        Assert.Contains("3.4028235E+38", e.Message);
    }

    [Fact]
    public void A_beta_that_float32_rounds_to_one_is_refused()
    {
        // In double it lies in [0, 1); in float32 it is 1, and Adam's bias correction 1 - beta2^t divides by zero.
        var e = Assert.Throws<ArgumentException>(() => new AdamW(TestData.Parameters(ScalarType.Float32), beta2: 1 - 1e-10));
        Assert.Contains("'beta2'", e.Message);
        Assert.Contains("makes 1, outside its declared range [0, 1)", e.Message);
    }

    [Fact]
    public void Values_float32_holds_in_range_are_accepted_and_tiny_ones_where_zero_is_valid()
    {
        using var a = new AdamW(TestData.Parameters(ScalarType.Float32), lr: float.MaxValue, eps: 1.2e-38, weightDecay: 1e-50);
        using var b = new Adafactor(TestData.Parameters(ScalarType.Float32), eps1: 1e-30);
        using var c = new Prodigy(TestData.Parameters(ScalarType.Float32));
        Assert.Equal(1e-50, a.OptionsOf(0)["weightDecay"]);
    }

    [Fact]
    public void A_parameter_group_is_checked_as_float32()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => new AdamW(new[] { new AdamW.ParamGroup(parameters, eps: 1e-50) }));
        Assert.Contains("'eps' of parameter group 0", e.Message);
        Assert.Contains("makes 0", e.Message);
    }

    [Fact]
    public void A_value_set_later_that_float32_cannot_hold_fails_the_step_and_changes_nothing()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new AdamW(parameters, lr: 0.01);
        opt.OptionsOf(0)["lr"] = 1e39;
        TestData.SetGradients(parameters, 1);
        var before = TestData.Copies(parameters);

        var e = Assert.Throws<ArgumentException>(() => opt.step());

        Assert.Contains("'lr' of parameter group 0", e.Message);
        Assert.Contains("makes infinity", e.Message);
        Assert.Equal(0, opt.StepCount);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]), $"parameter {k}");
    }

    [Fact]
    public void A_scheduled_value_that_float32_makes_zero_fails_its_step()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = new AdamW(parameters, lr: 0.01);
        opt.Schedule("eps", Schedules.Constant(1e-46));
        TestData.SetGradients(parameters, 1);

        var e = Assert.Throws<ArgumentException>(() => opt.step());

        Assert.Contains("'eps' of every group at step 0 of its schedule", e.Message);
        Assert.Contains("makes 0", e.Message);
        Assert.Equal(0, opt.StepCount);
    }

    [Fact]
    public void A_checkpoint_holding_a_value_float32_cannot_hold_is_refused_before_anything_changes()
    {
        // Options set by hand are checked at the next step, not when saved: such a checkpoint can exist.
        var source = new AdamW(TestData.Parameters(ScalarType.Float32), lr: 0.01);
        source.OptionsOf(0)["eps"] = 1e-50;
        var path = Path.Combine(_folder, "adamw.ckpt");
        source.SaveCheckpoint(path);

        var parameters = TestData.Parameters(ScalarType.Float32);
        using var target = new AdamW(parameters, lr: 0.02);
        var e = Assert.ThrowsAny<Exception>(() => target.LoadCheckpoint(path));

        Assert.Contains("'eps' of parameter group 0 of the checkpoint", e.Message);
        Assert.Contains("makes 0", e.Message);
        Assert.Equal(0.02, target.OptionsOf(0).LearningRate);
        Assert.Equal(1e-8, target.OptionsOf(0)["eps"]!.Value, 15);
        Assert.True(parameters.All(p => target.StateOf(p).Step == 0));
    }
}
