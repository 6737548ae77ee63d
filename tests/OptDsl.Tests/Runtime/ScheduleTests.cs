using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using OptDsl.Runtime.Services.Schedules;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>Every schedule against its closed form, and against PyTorch's LR schedulers where PyTorch has it.</summary>
public class ScheduleTests
{
    [Fact]
    public void Closed_forms()
    {
        Assert.Equal(0.3, Schedules.Constant(0.3).At(1000));
        Assert.Equal(0.55, Schedules.Linear(0.1, 1.0, 10).At(5), 12);
        Assert.Equal(1.0, Schedules.Linear(0.1, 1.0, 10).At(50), 12);
        Assert.Equal((1 + 0.5) / 2, Schedules.Cosine(1, 0, 6).At(2), 12); // (1 + cos(pi/3)) / 2
        Assert.Equal(0.0, Schedules.Cosine(1, 0, 6).At(9), 12);
        Assert.Equal(0.1 * Math.Pow(0.9, 7), Schedules.Exponential(0.1, 0.9).At(7), 15);
        Assert.Equal(0.01 + 0.09 * 0.25, Schedules.Polynomial(0.1, 0.01, 10, 2).At(5), 12);
        Assert.Equal(0.0, Schedules.Polynomial(0.1, 0, 10, 2).At(12), 12);
        var warm = Schedules.Warmup(4, Schedules.Constant(2.0));
        Assert.Equal(new[] { 0.0, 0.5, 1.0, 1.5, 2.0, 2.0 }, Enumerable.Range(0, 6).Select(t => warm.At(t)));
        var ldz = Schedules.LinearDecayToZero(1.0, totalSteps: 10, warmupSteps: 2);
        Assert.Equal(new[] { 0.0, 0.5, 1.0, 0.875, 0.0, 0.0 }, new long[] { 0, 1, 2, 3, 10, 20 }.Select(ldz.At));
        var joined = Schedules.Constant(1).Then(3, Schedules.Linear(1, 0, 2));
        Assert.Equal(new[] { 1.0, 1.0, 1.0, 1.0, 0.5, 0.0 }, Enumerable.Range(0, 6).Select(t => joined.At(t)));
        Assert.Equal(0.5, (0.5 * Schedules.Constant(1)).At(9));
    }

    [Fact]
    public void Decay_from_a_checkpoint_holds_then_cools_down_from_the_saved_step()
    {
        var cooldown = Schedules.DecayFrom(startStep: 1000, decaySteps: 100, from: 3e-4, to: 0, shape: DecayShape.Linear);
        Assert.Equal(3e-4, cooldown.At(0));
        Assert.Equal(3e-4, cooldown.At(1000));
        Assert.Equal(1.5e-4, cooldown.At(1050), 15);
        Assert.Equal(0, cooldown.At(1100));
        var sqrt = Schedules.DecayFrom(1000, 100, 1.0);
        Assert.Equal(1 - Math.Sqrt(0.25), sqrt.At(1025), 12);
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_setting_named()
    {
        Assert.Contains("steps", Assert.Throws<ArgumentException>(() => Schedules.Linear(0, 1, 0)).Message);
        Assert.Contains("gamma", Assert.Throws<ArgumentException>(() => Schedules.Exponential(1, -0.5)).Message);
        Assert.Contains("pctStart", Assert.Throws<ArgumentException>(() => Schedules.OneCycle(1, 100, pctStart: 1.5)).Message);
        Assert.Contains("warmupSteps", Assert.Throws<ArgumentException>(() => Schedules.LinearDecayToZero(1, 10, 10)).Message);
    }

    public static IEnumerable<object[]> SchedulesThatWouldGiveNaNOrInfinity() => new[]
    {
        new object[] { "one-cycle peaking at step 0 (10 steps, pctStart 0.1)", "pctStart", (Func<Schedule>)(() => Schedules.OneCycle(1e-3, 10, pctStart: 0.1)) },
        new object[] { "one-cycle peaking at step 0 (2 steps, pctStart 0.5)", "pctStart", (Func<Schedule>)(() => Schedules.OneCycle(1e-3, 2, 0.5)) },
        new object[] { "one-cycle divided by zero", "divFactor", (Func<Schedule>)(() => Schedules.OneCycle(1e-3, 100, divFactor: 0)) },
        new object[] { "one-cycle final value divided by zero", "finalDivFactor", (Func<Schedule>)(() => Schedules.OneCycle(1e-3, 100, finalDivFactor: 0)) },
        new object[] { "polynomial with a negative power", "power", (Func<Schedule>)(() => Schedules.Polynomial(0.1, 0, 10, power: -1)) },
        new object[] { "polynomial with a NaN power", "power", (Func<Schedule>)(() => Schedules.Polynomial(0.1, 0, 10, power: double.NaN)) },
        new object[] { "exponential growth", "gamma", (Func<Schedule>)(() => Schedules.Exponential(0.1, 1.1)) },
        new object[] { "an infinite constant", "value", (Func<Schedule>)(() => Schedules.Constant(double.PositiveInfinity)) },
        new object[] { "a NaN linear start", "start", (Func<Schedule>)(() => Schedules.Linear(double.NaN, 1, 10)) },
        new object[] { "a linear span that overflows", "end", (Func<Schedule>)(() => Schedules.Linear(-1e308, 1e308, 10)) },
        new object[] { "a cosine span that overflows", "end", (Func<Schedule>)(() => Schedules.Cosine(1e308, -1e308, 10)) },
        new object[] { "a warmup into a NaN schedule", "then", (Func<Schedule>)(() => Schedules.Warmup(5, Schedules.Of(_ => double.NaN))) },
        new object[] { "a WSD warmup that overflows", "peak", (Func<Schedule>)(() => Schedules.Wsd(100, 10, 0.2, peak: 1e308)) },
        new object[] { "an infinite decay target", "to", (Func<Schedule>)(() => Schedules.DecayFrom(10, 10, 1.0, to: double.NegativeInfinity)) },
        new object[] { "a scale that overflows", "factor", (Func<Schedule>)(() => 1e300 * Schedules.Linear(1e10, 0, 10)) },
        new object[] { "a NaN scale", "factor", (Func<Schedule>)(() => double.NaN * Schedules.Constant(1)) },
    };

    [Theory]
    [MemberData(nameof(SchedulesThatWouldGiveNaNOrInfinity))]
    public void Settings_that_would_give_NaN_or_infinity_at_some_step_are_refused_when_built(string what, string setting, Func<Schedule> build)
    {
        var e = Assert.Throws<ArgumentException>(build);
        Assert.True(e.ParamName == setting, $"{what}: the exception names '{e.ParamName}', not '{setting}' ({e.Message})");
    }

    [Fact]
    public void Nearby_settings_that_stay_finite_are_accepted()
    {
        // A one-cycle whose warm-up is under a step never divides by zero (PyTorch computes it the same way).
        var short_ = Schedules.OneCycle(1e-3, 10, pctStart: 0.05);
        Assert.All(Enumerable.Range(0, 12), t => Assert.True(double.IsFinite(short_.At(t))));
        Assert.All(Enumerable.Range(0, 12), t => Assert.True(double.IsFinite(Schedules.Polynomial(0.1, 0, 10, power: 0).At(t))));
        Assert.Equal(0.1, Schedules.Exponential(0.1, 1).At(1_000_000));
        Assert.Equal(2e-3, (2 * Schedules.OneCycle(1e-3, 100)).At(29), 12);
    }

    public static IEnumerable<object[]> PyTorchCases() =>
        Fixture.Value.Select(c => new object[] { c.Name });

    static readonly Lazy<List<(string Name, JsonElement Parameters, double[] Values)>> Fixture = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "schedules.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("name").GetString()!, c.GetProperty("parameters").Clone(),
                c.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray()))
            .ToList();
    });

    static Schedule Ours(string name, JsonElement p)
    {
        double D(string key) => p.GetProperty(key).GetDouble();
        long L(string key) => p.GetProperty(key).GetInt64();
        return name switch
        {
            "cosine" => Schedules.Cosine(D("base"), D("end"), L("steps")),
            "linear" => Schedules.Linear(D("base") * D("start_factor"), D("base") * D("end_factor"), L("steps")),
            "exponential" => Schedules.Exponential(D("base"), D("gamma")),
            "polynomial" => Schedules.Polynomial(D("base"), 0, L("steps"), D("power")),
            "onecycle" => Schedules.OneCycle(D("max"), L("steps")),
            "onecycle_linear" => Schedules.OneCycle(D("max"), L("steps"), pctStart: D("pct_start"), anneal: DecayShape.Linear),
            "warmup_cosine" => Schedules.Warmup(L("warmup"), Schedules.Cosine(D("base"), D("end"), L("steps")), from: D("base") * D("start_factor")),
            _ => throw new ArgumentException(name),
        };
    }

    /// <summary>
    /// PyTorch computes several of these recursively (each step from the last), ours in closed form; in float64 the
    /// two agree to rounding, 1e-12 relative to the schedule's scale over these lengths. One deliberate difference:
    /// PyTorch's <c>CosineAnnealingLR</c> keeps following the cosine after <c>T_max</c> (the rate rises again), ours
    /// holds the end value, so that case is compared up to <c>T_max</c>.
    /// </summary>
    [Theory]
    [MemberData(nameof(PyTorchCases))]
    public void Matches_PyTorch_lr_scheduler(string name)
    {
        var (_, parameters, values) = Fixture.Value.Single(c => c.Name == name);
        var schedule = Ours(name, parameters);
        double scale = values.Max(Math.Abs);
        int compared = name == "cosine" ? (int)parameters.GetProperty("steps").GetInt64() + 1 : values.Length;
        for (int t = 0; t < compared; t++)
            Assert.True(Math.Abs(schedule.At(t) - values[t]) <= 1e-12 * scale, $"{name} at step {t}: ours {schedule.At(t):R}, PyTorch {values[t]:R}");
    }
}
