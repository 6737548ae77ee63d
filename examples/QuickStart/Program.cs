using System;
using System.Globalization;
using OptDsl.Examples;
using QuickStart;

// Trains a small classifier on generated spirals with LaProp, an optimizer declared in LaProp.cs of this project.
// Usage: dotnet run --project examples/QuickStart [-- steps]
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1500;
Console.WriteLine($"OptDsl quick start: a 2-64-64-2 MLP on 2048 spiral points, LaProp (declared in LaProp.cs), WSD schedule, {steps} steps on the CPU.");

var bar = new ProgressBar(steps);
var result = Training.Run(steps, progress: bar.Report);

Console.WriteLine($"loss before: {result.LossBefore:F4}   accuracy before: {result.AccuracyBefore:P1}");
Console.WriteLine($"loss after:  {result.LossAfter:F4}   accuracy after:  {result.AccuracyAfter:P1}");
