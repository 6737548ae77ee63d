using System.IO;
using System.Linq;
using OptDsl.Tests.Shared;
using Xunit;
using ZerothOrder;

namespace OptDsl.Tests.Examples;

/// <summary>The zeroth-order example, shortened: its summary snapshot-tested, MeZO holding no state, its chart written.</summary>
[Collection(ExamplesCollection.Name)]
public class ZerothOrderExampleTests
{
    [Fact]
    public void MeZO_and_AdamW_fine_tune_the_same_weights_and_the_chart_is_written()
    {
        var weights = FineTuning.Pretrain();
        var runs = new[] { FineTuning.MeZO(weights, 300), FineTuning.AdamW(weights, 300) };
        Assert.Equal(runs[0].LossBefore, runs[1].LossBefore);
        Assert.True(runs[0].LossAfter < runs[0].LossBefore, "MeZO did not descend");
        Assert.Equal(0, runs[0].StateBytes);
        Snapshot.Match(FineTuning.Summary(runs, weights.Sum(w => w.NumberOfElements)) + "\n", "ZerothOrder");

        var png = Path.Combine(Path.GetTempPath(), $"optdsl-zo-{System.Guid.NewGuid():N}.png");
        Plot.Save(runs, png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4));
        File.Delete(png);
    }
}
