using System;
using System.Globalization;
using PrivateTraining;
using TorchSharp;

// Differentially private training (DP-AdamW) against AdamW on two Gaussian classes; prints loss, accuracy and ε.
// Usage: dotnet run --project examples/PrivateTraining [-- steps]
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400;
// One libtorch thread: this model's batches (128 × 16) are far too small to share, and libtorch's default of one thread
// per core made every batched operation wait on the other thread wherever the cores were busy with other work — 400
// steps of ghost clipping took 5 to 9 s instead of 0.5 s on a loaded 2-core machine, plain AdamW 1 to 15 s instead of
// 0.2 s (docs/differential-privacy.md). The results are the same either way.
torch.set_num_threads(1);
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
