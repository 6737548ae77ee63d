using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Optimizers;
using OptDsl.Runtime.Training.ZerothOrder;
using TorchSharp;
using static TorchSharp.torch;

namespace ZerothOrder;

/// <summary>One fine-tuning run: its losses, final figures and what its optimizer holds in memory.</summary>
public sealed record Run(string Name, IReadOnlyList<double> Losses, double LossBefore, double LossAfter, double AccuracyAfter,
    long StateBytes, long PeakStepBytes, double Seconds);

/// <summary>
/// The spiral MLP trained with AdamW, then fine-tuned on the spirals turned by a quarter turn — once with MeZO (two
/// forward passes per step, no gradient, no state) and once with AdamW (backpropagation, gradients and two moments).
/// </summary>
public static class FineTuning
{
    public const int PretrainSteps = 300, Seed = 7;
    public const double Rotation = Math.PI / 2;

    /// <summary>The pretrained weights, in the model's parameter order.</summary>
    public static Tensor[] Pretrain()
    {
        var task = new SpiralTask(Seed);
        using var adamw = new AdamW(task.Model.parameters(), lr: 1e-2);
        task.Train(adamw, PretrainSteps);
        return task.Model.parameters().Select(p => p.detach().clone()).ToArray();
    }

    static SpiralTask Target(Tensor[] weights)
    {
        var task = new SpiralTask(Seed + 1, Rotation);
        using var _ = no_grad();
        foreach (var (p, w) in task.Model.parameters().Zip(weights)) p.copy_(w);
        return task;
    }

    /// <summary>MeZO: ZO-SGD on forward passes only.</summary>
    public static Run MeZO(Tensor[] weights, int steps, Action<int>? progress = null)
    {
        var task = Target(weights);
        var parameters = task.Model.parameters().ToArray();
        double before = task.Evaluate().Loss;
        using var mezo = new ZerothOrderOptimizer(parameters, lr: 5e-3, eps: 1e-3, seed: 2024);
        var losses = new List<double>(steps);
        var watch = Stopwatch.StartNew();
        long kept = 0;
        for (int step = 0; step < steps; step++)
        {
            int s = step;
            losses.Add(mezo.Step(() => task.BatchLoss(s)));
            kept = Math.Max(kept, mezo.LastKeptElements);
            progress?.Invoke(step + 1);
        }
        var (after, accuracy) = task.Evaluate();
        // Between steps nothing; within a step, the largest tensor's noise, moved copy and check (4 + 4 + 4 + 1 bytes an
        // element, freed tensor by tensor) and the kept elements (an index and a value each).
        long largest = parameters.Max(p => p.NumberOfElements);
        return new Run("MeZO", losses, before, after, accuracy, 0, 13 * largest + 12 * kept, watch.Elapsed.TotalSeconds);
    }

    /// <summary>AdamW with backpropagation.</summary>
    public static Run AdamW(Tensor[] weights, int steps, Action<int>? progress = null)
    {
        var task = Target(weights);
        long elements = task.Model.parameters().Sum(p => p.NumberOfElements);
        using var adamw = new AdamW(task.Model.parameters(), lr: 1e-3);
        var watch = Stopwatch.StartNew();
        var result = task.Train(adamw, steps, progress: (step, _, _) => progress?.Invoke(step));
        // Two moments between steps; the gradients too within a step (activations kept for backward not counted).
        return new Run("AdamW", result.Losses, result.LossBefore, result.LossAfter, result.AccuracyAfter,
            8 * elements, 12 * elements, watch.Elapsed.TotalSeconds);
    }

    /// <summary>The comparison as text, rounded so that it reads (and snapshot-tests) the same on every machine.</summary>
    public static string Summary(IReadOnlyList<Run> runs, long parameters)
    {
        var lines = new List<string>
        {
            $"fine-tuning a 2-64-64-2 MLP ({parameters} weights) from AdamW on the spirals to the spirals turned by 90 degrees",
            $"{"optimizer",-8} {"loss before",12} {"loss after",11} {"accuracy",9} {"state (B)",10} {"peak in a step (B)",19}",
        };
        foreach (var r in runs)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-8} {r.LossBefore,12:F3} {r.LossAfter,11:F3} {r.AccuracyAfter,9:P0} {r.StateBytes,10} {r.PeakStepBytes,19}"));
        return string.Join("\n", lines);
    }
}
