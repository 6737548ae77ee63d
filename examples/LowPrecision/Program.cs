using System;
using System.Globalization;
using System.Linq;
using LowPrecision;
using OptDsl.Examples;

// bfloat16 parameters at a learning rate whose updates are below half their step: to nearest they stall, stochastic
// rounding and Kahan compensation track float32. Writes low-precision.png.
// Usage: dotnet run --project examples/LowPrecision [-- steps [output.png]] (by default the PNG goes to the example's
// output folder, bin/Debug/net10.0/, and its path is printed)
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3000;
string png = ExampleOutput.FromArguments(args, 1, "low-precision.png");

Console.WriteLine($"A 16-64-64-1 tanh network learns a random teacher: AdamW, lr {Experiment.LearningRate}, batch {Experiment.Batch}, {steps} steps.");
var (runs, start) = Experiment.Run(steps, (name, step) =>
{
    if (step % Math.Max(1, steps / 4) == 0) Console.WriteLine($"  {name,-22} step {step,6}");
});
var reference = runs[0];
double startLoss = runs.Min(r => r.Losses[0]);
Console.WriteLine();
Console.WriteLine($"{"parameters",-22} {"loss, first 50",14} {"loss, last 200",14} {"held-out loss",14} {"distance to float32",20}");
foreach (var run in runs)
    Console.WriteLine($"{run.Variant.Name,-22} {run.Losses.Take(50).Average(),14:F5} {run.Losses.Skip(run.Losses.Count - 200).Average(),14:F5} {run.HeldOutLoss,14:F5} {run.DistanceFrom(reference, start),20:F3}");
Console.WriteLine("(distance to float32: the final parameters' distance from the float32 run's, over how far that run moved from the start)");

LossCurves.Save(png, $"bfloat16 parameters, AdamW at lr {Experiment.LearningRate}", runs.Select(r => (r.Variant.Name, (System.Collections.Generic.IReadOnlyList<double>)r.Losses)), window: 50, logScale: true);
Console.WriteLine($"loss curves: {png}");
