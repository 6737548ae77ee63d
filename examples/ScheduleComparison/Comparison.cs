using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Runtime.Services.Schedules;

namespace ScheduleComparison;

/// <summary>One schedule's run: the schedule, its per-step learning rate and loss, and the final figures.</summary>
public sealed record Run(string Name, Schedule Schedule, IReadOnlyList<double> LearningRates, TrainingResult Result);

/// <summary>
/// The same model, data, seed and AdamW trained three times, only the learning-rate schedule changing: cosine
/// annealing with warmup, warmup-stable-decay (1-sqrt cool-down over the last 20%), and linear decay to zero.
/// </summary>
public static class Comparison
{
    public const double PeakLearningRate = 1e-2;

    public static IReadOnlyList<(string Name, Schedule Schedule)> Schedules(int steps)
    {
        int warmup = Math.Max(1, steps / 20);
        return new (string, Schedule)[]
        {
            ("cosine", OptDsl.Runtime.Services.Schedules.Schedules.Warmup(warmup, OptDsl.Runtime.Services.Schedules.Schedules.Cosine(PeakLearningRate, 0, steps - warmup))),
            ("WSD", OptDsl.Runtime.Services.Schedules.Schedules.Wsd(steps, warmup, decayFraction: 0.2, peak: PeakLearningRate, shape: DecayShape.OneMinusSqrt)),
            ("linear to zero", OptDsl.Runtime.Services.Schedules.Schedules.LinearDecayToZero(PeakLearningRate, steps, warmup)),
        };
    }

    public static IReadOnlyList<Run> RunAll(int steps, Action<string, int, double>? progress = null) =>
        Schedules(steps).Select(s =>
        {
            var task = new SpiralTask(seed: 7);
            var optimizer = new OptDsl.Optimizers.AdamW(task.Model.parameters(), lr: PeakLearningRate, weightDecay: 1e-4);
            optimizer.Schedule("lr", s.Schedule);
            var rates = Enumerable.Range(0, steps).Select(t => s.Schedule.At(t)).ToList();
            var result = task.Train(optimizer, steps, progress: (step, loss, _) => progress?.Invoke(s.Name, step, loss));
            return new Run(s.Name, s.Schedule, rates, result);
        }).ToList();

    /// <summary>The summary as text rounded to be the same on every machine: what the snapshot test compares.</summary>
    public static string Summary(IReadOnlyList<Run> runs) =>
        string.Join("\n", runs.Select(r =>
            $"{r.Name,-15} final loss {r.Result.LossAfter:F2}  accuracy {r.Result.AccuracyAfter:P0}  mean loss of the last 10% {LastTenth(r):F2}"));

    public static double LastTenth(Run r) => r.Result.Losses.Skip(r.Result.Losses.Count * 9 / 10).Average();
}
