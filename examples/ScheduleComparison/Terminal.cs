using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Spectre.Console;

namespace ScheduleComparison;

/// <summary>
/// The console the example writes to: colours and a live progress display in a terminal; plain text when the output
/// is redirected to a file or a pipe, where escape codes would be written as they are. (Spectre.Console's own
/// detection reads the TERM variable, which a redirection does not change.)
/// </summary>
public static class Terminal
{
    /// <summary>The console over standard output, plain when it is redirected.</summary>
    public static IAnsiConsole Standard() => Over(Console.Out, Console.IsOutputRedirected);

    /// <summary>A console writing to <paramref name="output"/>, with no escape codes at all when <paramref name="redirected"/>.</summary>
    public static IAnsiConsole Over(TextWriter output, bool redirected) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
        ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        Out = new AnsiConsoleOutput(output),
    });

    /// <summary>Trains every schedule with a progress bar per schedule on <paramref name="console"/>.</summary>
    public static IReadOnlyList<Run> RunWithProgress(IAnsiConsole console, int steps) =>
        console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                foreach (var (name, _) in Comparison.Schedules(steps)) tasks[name] = context.AddTask(name, maxValue: steps);
                return Comparison.RunAll(steps, (name, step, _) => tasks[name].Value = step);
            });

    /// <summary>The results as a table.</summary>
    public static Table Results(IReadOnlyList<Run> runs, int steps)
    {
        var table = new Table().Title($"AdamW, peak lr {Comparison.PeakLearningRate.ToString(CultureInfo.InvariantCulture)}, {steps} steps, same seed")
            .AddColumns("schedule", "final loss", "final accuracy", "loss, last 10% of steps");
        foreach (var run in runs)
            table.AddRow(run.Name, run.Result.LossAfter.ToString("F4", CultureInfo.InvariantCulture),
                run.Result.AccuracyAfter.ToString("P1", CultureInfo.InvariantCulture), Comparison.LastTenth(run).ToString("F4", CultureInfo.InvariantCulture));
        return table;
    }
}
