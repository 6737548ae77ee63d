using System.Globalization;
using OptDsl.Tests.Shared;
using QuickStart;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>The README's first command: the quick start's training, shortened, its result snapshot-tested.</summary>
[Collection(ExamplesCollection.Name)]
public class QuickStartTests
{
    [Fact]
    public void Four_hundred_steps_of_the_quick_start_lower_the_loss_and_raise_accuracy()
    {
        var result = Training.Run(steps: 400);
        Assert.True(result.LossAfter < 0.8 * result.LossBefore, $"loss went from {result.LossBefore} to {result.LossAfter}");
        Assert.True(result.AccuracyAfter > result.AccuracyBefore, $"accuracy went from {result.AccuracyBefore} to {result.AccuracyAfter}");
        // Rounded so that the snapshot holds on any machine: the training is seeded.
        Snapshot.Match(string.Create(CultureInfo.InvariantCulture,
            $"loss {result.LossBefore:F2} -> {result.LossAfter:F2}, accuracy {result.AccuracyBefore:P0} -> {result.AccuracyAfter:P0}\n"), "QuickStart");
    }
}
