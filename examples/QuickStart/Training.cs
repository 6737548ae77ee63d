using System;
using OptDsl.Examples;
using OptDsl.Runtime.Services.Schedules;

namespace QuickStart;

/// <summary>
/// Trains the spiral classifier with the <see cref="LaProp"/> optimizer declared in this example, its learning rate
/// following a warmup-stable-decay schedule from the runtime.
/// </summary>
public static class Training
{
    public static TrainingResult Run(int steps, Action<int, double, double>? progress = null)
    {
        var task = new SpiralTask(seed: 7);
        var optimizer = new LaProp(task.Model.parameters(), lr: 1e-2, weightDecay: 1e-4);
        optimizer.Schedule("lr", Schedules.Wsd(totalSteps: steps, warmupSteps: Math.Max(1, steps / 10), decayFraction: 0.2,
            peak: 1e-2, shape: DecayShape.OneMinusSqrt));
        return task.Train(optimizer, steps, progress: progress);
    }
}
