using System.IO;
using System.Linq;
using OptDsl.Tests.Shared;
using ScheduleComparison;
using Spectre.Console;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>The schedule comparison, shortened: its summary snapshot-tested, its chart written, its output plain when redirected.</summary>
[Collection(ExamplesCollection.Name)]
public class ScheduleComparisonTests
{
    [Fact]
    public void Three_schedules_train_the_same_model_and_the_chart_is_written()
    {
        // Through the console the program uses, as it is when the output is redirected: plain text, no escape codes.
        var output = new StringWriter();
        var console = Terminal.Over(output, redirected: true);
        // Spectre.Console alone says yes to both wherever TERM is set, redirected or not.
        Assert.False(console.Profile.Capabilities.Ansi);
        Assert.False(console.Profile.Capabilities.Interactive);
        console.MarkupLine("[green]in colour where escape codes are understood[/]");
        var runs = Terminal.RunWithProgress(console, steps: 300);
        console.Write(Terminal.Results(runs, steps: 300));
        Assert.DoesNotContain('\u001b', output.ToString());
        Assert.Contains("final accuracy", output.ToString());
        Assert.Contains("in colour where escape codes are understood", output.ToString());

        Assert.Equal(new[] { "cosine", "WSD", "linear to zero" }, runs.Select(r => r.Name));
        Assert.All(runs, r => Assert.Equal(0, r.LearningRates[^1], 3));
        Snapshot.Match(Comparison.Summary(runs) + "\n", "ScheduleComparison");

        var png = Path.Combine(Path.GetTempPath(), $"optdsl-schedules-{System.Guid.NewGuid():N}.png");
        Plot.Save(runs, png);
        Assert.True(new FileInfo(png).Length > 10_000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4));
        File.Delete(png);
    }
}
