using System;
using System.Globalization;
using OptDsl.Examples;
using OptimizerComparison;

// AlgoPerf in miniature: several optimizers, one task, one budget; prints a table, writes optimizers.png.
// Usage: dotnet run --project examples/OptimizerComparison [-- steps [output.png]] (by default the PNG goes to the
// example's output folder, bin/Debug/net10.0/, and its path is printed)
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1500;
string png = ExampleOutput.FromArguments(args, 1, "optimizers.png");

var entries = Contest.RunAll(steps, (name, step) => { if (step == steps) Console.WriteLine($"  {name}: done"); });
Console.WriteLine();
Console.WriteLine(Contest.Summary(entries, steps));
foreach (var e in entries) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{e.Name}: {e.Seconds:F1} s"));
Plot.Save(entries, png);
Console.WriteLine($"loss curves: {png}");
