using System.IO;
using System.Linq;
using OptDsl.Tests.Shared;
using OptimizerComparison;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>The optimizer comparison, shortened: every contender runs, the table is snapshot-tested, the chart written.</summary>
[Collection(ExamplesCollection.Name)]
public class OptimizerComparisonTests
{
    [Fact]
    public void Every_contender_trains_the_same_model_and_the_chart_is_written()
    {
        var entries = Contest.RunAll(steps: 200);
        Assert.Equal(Contest.Contenders.Select(c => c.Name), entries.Select(e => e.Name));
        Assert.All(entries, e => Assert.Equal(200, e.Losses.Count));
        Snapshot.Match(Contest.Summary(entries, 200) + "\n", "OptimizerComparison");

        var png = Path.Combine(Path.GetTempPath(), $"optdsl-optimizers-{System.Guid.NewGuid():N}.png");
        Plot.Save(entries, png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4));
        File.Delete(png);
    }
}
