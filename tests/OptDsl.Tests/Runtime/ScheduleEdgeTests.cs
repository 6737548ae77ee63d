using System;
using System.Linq;
using OptDsl.Runtime.Services.Schedules;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The corners of the schedules that the closed forms and PyTorch's fixtures do not reach: the cosine warmup, the
/// bounds that scaling checks against, and the settings that lie exactly on a limit. Each expected value is worked out
/// here from the schedule's definition.
/// </summary>
public class ScheduleEdgeTests
{
    [Fact]
    public void A_cosine_warmup_rises_along_half_a_cosine_then_hands_over()
    {
        var warm = Schedules.Warmup(4, Schedules.Constant(2.0), DecayShape.Cosine, from: 1.0);
        // target + (from - target) (1 + cos(pi t / 4)) / 2 with target 2, from 1.
        double[] expected = Enumerable.Range(0, 4).Select(t => 2 - (1 + Math.Cos(Math.PI * t / 4)) / 2).ToArray();
        for (int t = 0; t < 4; t++)
            Assert.Equal(expected[t], warm.At(t), 14);
        Assert.Equal(2.0, warm.At(4));
        Assert.Equal(2.0, warm.At(100));
    }

    [Fact]
    public void A_cosine_warmup_whose_span_overflows_twice_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Schedules.Warmup(4, Schedules.Constant(1e308), DecayShape.Cosine, from: -1e308));
        Assert.Equal("from", e.ParamName);
    }

    [Fact]
    public void Scaling_a_joined_schedule_is_checked_against_its_larger_part()
    {
        // The second part reaches 1e10: 1e300 times it overflows, though the first part's 1 would not.
        var joined = Schedules.Constant(1).Then(5, Schedules.Linear(1e10, 0, 10));
        Assert.Equal("factor", Assert.Throws<ArgumentException>(() => 1e300 * joined).ParamName);
        var reversed = Schedules.Linear(1e10, 0, 10).Then(5, Schedules.Constant(1));
        Assert.Equal("factor", Assert.Throws<ArgumentException>(() => 1e300 * reversed).ParamName);
        Assert.Equal(1e298 * 1e10, (1e298 * joined).At(5));
    }

    [Fact]
    public void Scaling_twice_is_checked_against_the_product_of_the_factors()
    {
        var once = 1e200 * Schedules.Constant(1);
        Assert.Equal(1e200, once.At(0));
        Assert.Equal("factor", Assert.Throws<ArgumentException>(() => 1e200 * once).ParamName);
        // A negative factor is checked by its size.
        Assert.Equal("factor", Assert.Throws<ArgumentException>(() => -1e200 * once).ParamName);
        Assert.Equal(-1e200 * 1e100, (-1e100 * once).At(3));
        // A negative factor's bound is its size too: joined with a small part, it still refuses an overflowing scale.
        var negativeThenSmall = (-1e100 * Schedules.Constant(1)).Then(1, Schedules.Constant(1));
        Assert.Equal("factor", Assert.Throws<ArgumentException>(() => 1e300 * negativeThenSmall).ParamName);
    }

    [Fact]
    public void A_function_schedule_has_no_known_bound_and_scales_freely()
    {
        var scaled = 1e300 * Schedules.Of(t => t);
        Assert.Equal(1e300 * 3, scaled.At(3));
    }

    [Fact]
    public void A_WSD_schedule_without_a_stable_phase_or_decay_is_accepted()
    {
        // Warmup straight into the decay: warmupSteps == decayStart.
        var noPlateau = new WsdSchedule(totalSteps: 8, warmupSteps: 4, decayStart: 4, peak: 2.0);
        Assert.Equal(new[] { 0.5, 1.0, 1.5, 2.0, 2.0, 1.5, 1.0, 0.5, 0.0 }, Enumerable.Range(0, 9).Select(t => noPlateau.At(t)));
        // No decay: decayStart == totalSteps, the peak until the end and the final value from there.
        var noDecay = new WsdSchedule(totalSteps: 5, warmupSteps: 0, decayStart: 5, peak: 2.0, final: 0.25);
        Assert.Equal(new[] { 2.0, 2.0, 2.0, 2.0, 2.0, 0.25 }, Enumerable.Range(0, 6).Select(t => noDecay.At(t)));
    }

    [Theory]
    [InlineData(0, 0, 0, "totalSteps")]
    [InlineData(10, -1, 5, "warmupSteps")]
    [InlineData(10, 6, 5, "warmupSteps")]
    [InlineData(10, 0, 11, "decayStart")]
    public void WSD_settings_out_of_order_are_refused_with_the_setting_named(long total, long warmup, long decayStart, string setting)
    {
        var e = Assert.Throws<ArgumentException>(() => new WsdSchedule(total, warmup, decayStart));
        Assert.Equal(setting, e.ParamName);
    }

    [Theory]
    [InlineData(double.NaN, 0.0, "peak")]
    [InlineData(1.0, double.PositiveInfinity, "final")]
    [InlineData(1e308, -1e308, "final")]
    public void WSD_values_that_are_not_finite_or_too_far_apart_are_refused(double peak, double final, string setting)
    {
        var e = Assert.Throws<ArgumentException>(() => new WsdSchedule(10, 0, 5, peak, final));
        Assert.Equal(setting, e.ParamName);
    }

    [Fact]
    public void A_decay_fraction_takes_the_rounded_last_part_of_the_run()
    {
        Assert.Equal(7, Schedules.Wsd(10, 2, 0.3).DecayStart);
        Assert.Equal(10, Schedules.Wsd(10, 2, 0).DecayStart);
        Assert.Equal(0, Schedules.Wsd(10, 0, 1).DecayStart);
        Assert.Equal("decayFraction", Assert.Throws<ArgumentException>(() => Schedules.Wsd(10, 2, 1.01)).ParamName);
        Assert.Equal("decayFraction", Assert.Throws<ArgumentException>(() => Schedules.Wsd(10, 2, -0.01)).ParamName);
        Assert.Equal("decayFraction", Assert.Throws<ArgumentException>(() => Schedules.Wsd(10, 2, double.NaN)).ParamName);
    }

    [Fact]
    public void Linear_decay_to_zero_without_warmup_starts_at_the_peak()
    {
        var ldz = Schedules.LinearDecayToZero(2.0, totalSteps: 4);
        Assert.Equal(new[] { 2.0, 1.5, 1.0, 0.5, 0.0 }, Enumerable.Range(0, 5).Select(t => ldz.At(t)));
        Assert.Equal("warmupSteps", Assert.Throws<ArgumentException>(() => Schedules.LinearDecayToZero(1, 10, -1)).ParamName);
    }

    [Fact]
    public void A_decay_from_a_checkpoint_needs_a_step_that_is_not_negative()
    {
        Assert.Equal("startStep", Assert.Throws<ArgumentException>(() => Schedules.DecayFrom(-1, 10, 1.0)).ParamName);
        Assert.Equal(1.0, Schedules.DecayFrom(0, 4, 1.0, shape: DecayShape.Linear).At(0));
    }

    [Fact]
    public void One_cycle_needs_two_steps_and_a_peak_inside_the_run()
    {
        Assert.Equal("totalSteps", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(1, 1)).ParamName);
        Assert.Equal("pctStart", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(1, 100, pctStart: 0)).ParamName);
        Assert.Equal("pctStart", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(1, 100, pctStart: 1)).ParamName);
        Assert.Equal("max", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(double.NaN, 100)).ParamName);
        // max / divFactor overflows: the initial value is infinite.
        Assert.Equal("divFactor", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(1e308, 100, divFactor: 0.1)).ParamName);
    }
}
