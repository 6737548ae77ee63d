using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Optimizers;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.HandWritten;
using TorchSharp;
using TorchSharp.Modules;
using AdamW = OptDsl.Optimizers.AdamW;
using SGD = OptDsl.Optimizers.SGD;
using static TorchSharp.torch;

namespace OptimizerComparison;

/// <summary>One optimizer's run on the shared task: its losses, final figures and time.</summary>
public sealed record Entry(string Name, string Passes, IReadOnlyList<double> Losses, double LossAfter, double AccuracyAfter, double Seconds);

/// <summary>
/// AlgoPerf in miniature: the spiral MLP trained from the same initial weights, on the same minibatches, for the same
/// number of steps, by several optimizers at settings that are reasonable without tuning; final loss and accuracy on
/// all points, wall time, and the loss curves.
/// </summary>
public static class Contest
{
    public const int Seed = 7;

    /// <summary>The contenders: a name, how many forward/backward passes a step takes, and how to build the optimizer.</summary>
    public static IReadOnlyList<(string Name, string Passes, Func<SpiralTask, optim.Optimizer> Create)> Contenders { get; } = new (string, string, Func<SpiralTask, optim.Optimizer>)[]
    {
        ("AdamW", "1", t => new AdamW(t.Model.parameters(), lr: 1e-2)),
        ("Lion", "1", t => new Lion(t.Model.parameters(), lr: 1e-3)),
        ("Muon + AdamW", "1", t => t.Model.named_parameters()
            .Route("muon", Routing.Matrices("hidden1", "output"), ps => new Muon(ps, lr: 0.02))
            .Otherwise("adamw", ps => new AdamW(ps, lr: 1e-2))),
        ("SAM + AdamW", "2", t => new SharpnessAware(new AdamW(t.Model.parameters(), lr: 1e-2), rho: 0.01)),
        ("Sophia (GNB, k 10)", "1 + 1/10", t => new RefreshEvery(new Sophia(t.Model.parameters(), lr: 2e-3), every: 10,
            step => Curvature.GaussNewtonBartlett(t.Model.parameters().ToList(), t.BatchLogits((int)step - 1), Seed, (ulong)step))),
        ("SOAP", "1", t => new Soap(t.Model.parameters(), lr: 3e-3)),
        ("DoG", "1", t => new DoG(t.Model.parameters())),
        ("Prodigy", "1", t => new Prodigy(t.Model.parameters())),
        ("SGD + Polyak step", "1", t => new PolyakStepSize(new SGD(t.Model.parameters(), lr: 1), maxLr: 1)),
    };

    /// <summary>Every contender for <paramref name="steps"/> steps; <paramref name="progress"/> hears (name, step).</summary>
    public static IReadOnlyList<Entry> RunAll(int steps, Action<string, int>? progress = null) =>
        Contenders.Select(c => Run(c.Name, c.Passes, c.Create, steps, progress)).ToList();

    static Entry Run(string name, string passes, Func<SpiralTask, optim.Optimizer> create, int steps, Action<string, int>? progress)
    {
        var task = new SpiralTask(Seed);
        var optimizer = create(task);
        var losses = new List<double>(steps);
        var watch = Stopwatch.StartNew();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            int s = step;
            var loss = optimizer.step(() =>
            {
                optimizer.zero_grad();
                var l = task.BatchLoss(s);
                l.backward();
                return l;
            });
            losses.Add(loss.item<float>());
            progress?.Invoke(name, step + 1);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        var (after, accuracy) = task.Evaluate();
        return new Entry(name, passes, losses, after, accuracy, seconds);
    }

    /// <summary>The table, rounded so it reads (and snapshot-tests) the same on every machine; time is left out.</summary>
    public static string Summary(IReadOnlyList<Entry> entries, int steps)
    {
        var lines = new List<string>
        {
            $"the spiral MLP, {steps} steps of 128 points, same initial weights and batches",
            $"{"optimizer",-18} {"passes/step",11} {"final loss",10} {"accuracy",9} {"mean loss, last 10%",20}",
        };
        foreach (var e in entries)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{e.Name,-18} {e.Passes,11} {e.LossAfter,10:F4} {e.AccuracyAfter,9:P1} {e.Losses.Skip(e.Losses.Count * 9 / 10).Average(),20:F4}"));
        return string.Join("\n", lines);
    }
}
