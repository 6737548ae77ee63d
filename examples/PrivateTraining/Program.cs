using System;
using System.Globalization;
using PrivateTraining;

// Differentially private training (DP-AdamW) against AdamW on two Gaussian classes; prints loss, accuracy and ε.
// Usage: dotnet run --project examples/PrivateTraining [-- steps]
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400;
var runs = new[]
{
    Private.NonPrivate(steps),
    Private.DpAdamW(steps, Private.Clipping.MicroBatches, Progress("DP-AdamW, micro-batches")),
    Private.DpAdamW(steps, Private.Clipping.Ghost, Progress("DP-AdamW, ghost clipping")),
    Private.DpAdamW(steps, Private.Clipping.GhostWithErrorFeedback, Progress("DP-AdamW + error feedback")),
};
Console.WriteLine();
Console.WriteLine(Private.Summary(runs, steps));
foreach (var r in runs) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name}: {r.Seconds:F1} s"));

Action<int> Progress(string name) => s => { if (s % Math.Max(1, steps / 4) == 0) Console.WriteLine($"  {name}: step {s}/{steps}"); };
