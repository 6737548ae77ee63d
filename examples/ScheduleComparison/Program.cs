using System;
using System.Globalization;
using System.IO;
using ScheduleComparison;
using Spectre.Console;

// The spiral classifier trained with cosine, WSD and linear-decay-to-zero learning rates; writes schedules.png.
// Usage: dotnet run --project examples/ScheduleComparison [-- steps [output.png]]
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1200;
string png = args.Length > 1 ? args[1] : Path.GetFullPath("schedules.png");

var runs = AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(context =>
    {
        var tasks = new System.Collections.Generic.Dictionary<string, ProgressTask>();
        foreach (var (name, _) in Comparison.Schedules(steps)) tasks[name] = context.AddTask(name, maxValue: steps);
        return Comparison.RunAll(steps, (name, step, _) => tasks[name].Value = step);
    });

var table = new Table().Title($"AdamW, peak lr {Comparison.PeakLearningRate}, {steps} steps, same seed")
    .AddColumns("schedule", "final loss", "final accuracy", "loss, last 10% of steps");
foreach (var run in runs)
    table.AddRow(run.Name, run.Result.LossAfter.ToString("F4", CultureInfo.InvariantCulture),
        run.Result.AccuracyAfter.ToString("P1", CultureInfo.InvariantCulture), Comparison.LastTenth(run).ToString("F4", CultureInfo.InvariantCulture));
AnsiConsole.Write(table);

Plot.Save(runs, png);
Console.WriteLine($"schedules and loss curves: {png}");
