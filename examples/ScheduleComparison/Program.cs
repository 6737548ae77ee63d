using System.Globalization;
using OptDsl.Examples;
using ScheduleComparison;

// The spiral classifier trained with cosine, WSD and linear-decay-to-zero learning rates; writes schedules.png.
// Usage: dotnet run --project examples/ScheduleComparison [-- steps [output.png]] (by default the PNG goes to the
// example's output folder, bin/Debug/net10.0/, and its path is printed)
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1200;
string png = ExampleOutput.FromArguments(args, 1, "schedules.png");

var console = Terminal.Standard();
var runs = Terminal.RunWithProgress(console, steps);
console.Write(Terminal.Results(runs, steps));

Plot.Save(runs, png);
// Plain, not through the console: its width (80 columns when redirected) would break the path.
System.Console.WriteLine($"schedules and loss curves: {png}");
