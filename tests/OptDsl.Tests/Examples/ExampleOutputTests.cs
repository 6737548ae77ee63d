using System;
using System.IO;
using OptDsl.Examples;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>The examples write their charts to their output folder unless told otherwise, whatever the current directory.</summary>
public class ExampleOutputTests
{
    [Fact]
    public void A_chart_goes_to_the_output_folder_by_default_and_where_the_command_line_says_otherwise()
    {
        var folder = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        Assert.Equal(Path.Combine(folder, "schedules.png"), ExampleOutput.FromArguments(new[] { "300" }, 1, "schedules.png"));

        var given = Path.Combine(Path.GetTempPath(), "elsewhere", "plot.png");
        Assert.Equal(given, ExampleOutput.FromArguments(new[] { "300", given }, 1, "schedules.png"));
        Assert.Equal(Path.GetFullPath("relative.png"), ExampleOutput.FromArguments(new[] { "300", "relative.png" }, 1, "schedules.png"));
    }
}
