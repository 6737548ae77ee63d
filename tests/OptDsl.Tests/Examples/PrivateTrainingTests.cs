using System;
using OptDsl.Runtime.Training.Privacy;
using OptDsl.Tests.Shared;
using PrivateTraining;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>
/// The private-training example, shortened: its summary snapshot-tested, ε the accountant's, and ghost clipping's run the
/// micro-batch run up to float32 rounding.
/// </summary>
[Collection(ExamplesCollection.Name)]
public class PrivateTrainingTests
{
    [Fact]
    public void DP_AdamW_and_AdamW_train_the_same_model_and_epsilon_is_reported()
    {
        const int steps = 120;
        var runs = new[]
        {
            Private.NonPrivate(steps),
            Private.DpAdamW(steps, Private.Clipping.MicroBatches),
            Private.DpAdamW(steps, Private.Clipping.Ghost),
            Private.DpAdamW(steps, Private.Clipping.GhostWithErrorFeedback),
        };
        Assert.Equal(RdpAccountant.Epsilon(Private.Rate, Private.Noise, steps, Private.Delta).Epsilon, runs[1].Epsilon);
        Assert.True(runs[1].AccuracyAfter > 0.8, $"DP-AdamW reached {runs[1].AccuracyAfter:P1}");
        Assert.True(Math.Abs(runs[1].LossAfter - runs[2].LossAfter) < 1e-4, $"micro-batches {runs[1].LossAfter}, ghost {runs[2].LossAfter}");
        Assert.True(runs[3].AccuracyAfter > 0.8, $"error feedback reached {runs[3].AccuracyAfter:P1}");
        Snapshot.Match(Private.Summary(runs, steps) + "\n", "PrivateTraining");
    }
}
