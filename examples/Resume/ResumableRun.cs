using System.IO;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Runtime.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Resume;

/// <summary>
/// A training run that can stop and continue: the model's weights (TorchSharp's <c>save</c>) and the optimizer's
/// checkpoint (state, hyperparameters, the step its WSD schedule has reached) are all it needs.
/// </summary>
public static class ResumableRun
{
    public const int TotalSteps = 400;

    static OptDsl.Optimizers.Lion Optimizer(SpiralTask task)
    {
        var optimizer = new OptDsl.Optimizers.Lion(task.Model.parameters(), lr: 1e-3, weightDecay: 0.01);
        optimizer.Schedule("lr", Schedules.Wsd(TotalSteps, warmupSteps: 40, decayFraction: 0.25, peak: 1e-3));
        return optimizer;
    }

    /// <summary>All steps in one go; returns the final weights.</summary>
    public static Tensor[] Uninterrupted()
    {
        var task = new SpiralTask(seed: 7);
        task.Train(Optimizer(task), TotalSteps);
        return Weights(task);
    }

    /// <summary>The first <paramref name="steps"/> steps, then weights and optimizer saved into <paramref name="folder"/>.</summary>
    public static void Start(int steps, string folder)
    {
        var task = new SpiralTask(seed: 7);
        var optimizer = Optimizer(task);
        task.Train(optimizer, steps);
        task.Model.save(Path.Combine(folder, "model.bin"));
        optimizer.SaveCheckpoint(Path.Combine(folder, "optimizer.ckpt"));
    }

    /// <summary>Loads both from <paramref name="folder"/> and runs the remaining steps; saves the final weights there.</summary>
    public static long Continue(string folder)
    {
        var task = new SpiralTask(seed: 7);
        task.Model.load(Path.Combine(folder, "model.bin"));
        var optimizer = Optimizer(task);
        optimizer.LoadCheckpoint(Path.Combine(folder, "optimizer.ckpt"));
        long resumedAt = optimizer.StepCount;
        task.Train(optimizer, TotalSteps - (int)resumedAt, from: (int)resumedAt);
        task.Model.save(Path.Combine(folder, "final.bin"));
        return resumedAt;
    }

    /// <summary>The final weights a continued run saved in <paramref name="folder"/>.</summary>
    public static Tensor[] SavedWeights(string folder)
    {
        var task = new SpiralTask(seed: 7);
        task.Model.load(Path.Combine(folder, "final.bin"));
        return Weights(task);
    }

    static Tensor[] Weights(SpiralTask task) => task.Model.parameters().Select(p => p.detach().clone()).ToArray();

    /// <summary>Whether two sets of weights are equal bit for bit.</summary>
    public static bool Identical(Tensor[] a, Tensor[] b) =>
        a.Length == b.Length && a.Zip(b).All(pair => pair.First.shape.SequenceEqual(pair.Second.shape) && pair.First.eq(pair.Second).all().item<bool>());
}
