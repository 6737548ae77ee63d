using QuickStart;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>The README's first command: the example's training, shortened.</summary>
public class QuickStartTests
{
    [Fact]
    public void Four_hundred_steps_of_the_example_training_lower_the_loss_and_raise_accuracy()
    {
        var result = Training.Run(steps: 400);
        Assert.True(result.LossAfter < 0.8 * result.LossBefore, $"loss went from {result.LossBefore} to {result.LossAfter}");
        Assert.True(result.AccuracyAfter > result.AccuracyBefore, $"accuracy went from {result.AccuracyBefore} to {result.AccuracyAfter}");
    }
}
