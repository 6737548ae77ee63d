using System;
using System.Linq;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>TorchSharp's own LR schedulers drive generated optimizers; the WSD schedule matches its closed form.</summary>
public class SchedulerTests
{
    [Fact]
    public void TorchSharp_StepLR_drives_the_learning_rate_of_a_generated_optimizer()
    {
        var scheduled = TestData.Parameters(ScalarType.Float64);
        var opt = new SGD(scheduled, lr: 0.1);
        var scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size: 2, gamma: 0.5);
        var manual = TestData.Parameters(ScalarType.Float64);
        var reference = new SGD(manual, lr: 0.1);

        for (int step = 1; step <= 6; step++)
        {
            TestData.SetGradients(scheduled, step);
            TestData.SetGradients(manual, step);
            reference.OptionsOf(0).LearningRate = 0.1 * Math.Pow(0.5, (step - 1) / 2);
            opt.step();
            reference.step();
            scheduler.step();
        }
        Assert.Equal(0.1 * 0.125, opt.ParamGroups.Single().LearningRate, 12);
        for (int k = 0; k < scheduled.Length; k++) Assert.True(TestData.Identical(scheduled[k], manual[k]));
    }

    /// <summary>
    /// The README's LambdaLR recipe: LambdaLR multiplies the initial learning rate by its function, so a schedule of
    /// learning rates goes in as a factor of that rate — and the plateau runs at the schedule's peak, not its square.
    /// </summary>
    [Fact]
    public void LambdaLR_with_a_schedule_as_a_factor_of_the_initial_rate_runs_the_schedule()
    {
        var ps = TestData.Parameters(ScalarType.Float64);
        var optimizer = new SGD(ps, lr: 1e-2);
        var schedule = Schedules.Wsd(totalSteps: 20, warmupSteps: 4, decayFraction: 0.25, peak: 1e-2);
        var scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule.AsFactorOf(1e-2));
        for (int step = 0; step < 20; step++)
        {
            Assert.Equal(schedule.At(step), optimizer.ParamGroups.Single().LearningRate, 15);
            TestData.SetGradients(ps, step + 1);
            optimizer.step();
            scheduler.step();
        }
        Assert.Throws<ArgumentException>(() => schedule.AsFactorOf(0));
    }

    [Theory]
    [InlineData(DecayShape.Linear)]
    [InlineData(DecayShape.Cosine)]
    [InlineData(DecayShape.OneMinusSqrt)]
    public void Wsd_follows_warmup_stable_and_decay_in_closed_form(DecayShape shape)
    {
        var wsd = WsdSchedule.WithDecayFraction(totalSteps: 100, warmupSteps: 10, decayFraction: 0.2, peak: 2.0, final: 0.5, shape: shape);
        Assert.Equal(80, wsd.DecayStart);
        Assert.Equal(2.0 * 1 / 10, wsd.At(0), 12);
        Assert.Equal(2.0 * 10 / 10, wsd.At(9), 12);
        Assert.Equal(2.0, wsd.At(10), 12);
        Assert.Equal(2.0, wsd.At(79), 12);
        Assert.Equal(2.0, wsd.At(80), 12);
        double x = 10.0 / 20;
        double expected = shape switch
        {
            DecayShape.Linear => 0.5 + 1.5 * (1 - x),
            DecayShape.Cosine => 0.5 + 1.5 * 0.5 * (1 + Math.Cos(Math.PI * x)),
            _ => 0.5 + 1.5 * (1 - Math.Sqrt(x)),
        };
        Assert.Equal(expected, wsd.At(90), 12);
        Assert.Equal(0.5, wsd.At(100), 12);
        Assert.Equal(0.5, wsd.At(1000), 12);
    }

    [Fact]
    public void Wsd_refuses_a_decay_that_starts_before_the_warmup_ends()
    {
        var e = Assert.Throws<ArgumentException>(() => new WsdSchedule(totalSteps: 100, warmupSteps: 50, decayStart: 40));
        Assert.Contains("warmupSteps", e.Message);
    }
}
