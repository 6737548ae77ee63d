using System.IO;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Services.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Resume;

/// <summary>
/// A training run that can stop and continue: the model's weights (TorchSharp's <c>save</c>) and the optimizer's
/// checkpoint — Lion's state and hyperparameters, the step its WSD schedule has reached, the EMA of the weights — are
/// all it needs.
/// </summary>
public static class ResumableRun
{
    public const int TotalSteps = 400;

    /// <summary>
    /// The recipe: Lion with weight decay on the weight matrices only and a WSD learning rate, gradients clipped to a
    /// global norm of 1, and an exponential moving average of the weights for evaluation.
    /// </summary>
    static ComposedOptimizer Optimizer(SpiralTask task)
    {
        var groups = ParameterGroups.WeightDecayMask<OptDsl.Optimizers.Lion.Options>(task.Model.named_parameters());
        var lion = new OptDsl.Optimizers.Lion(groups, lr: 1e-3, weightDecay: 0.01);
        lion.Schedule("lr", Schedules.Wsd(TotalSteps, warmupSteps: 40, decayFraction: 0.25, peak: 1e-3));
        return lion.Compose(new ClipGradNorm(1.0), WeightAverage.Ema(0.99));
    }

    /// <summary>All steps in one go; returns the final weights and their moving average.</summary>
    public static (Tensor[] Weights, Tensor[] Average) Uninterrupted()
    {
        var task = new SpiralTask(seed: 7);
        using var optimizer = Optimizer(task);
        task.Train(optimizer, TotalSteps);
        var weights = Weights(task);
        using (optimizer.Stage<WeightAverage>().SwapIn()) return (weights, Weights(task));
    }

    /// <summary>The first <paramref name="steps"/> steps, then weights and optimizer saved into <paramref name="folder"/>.</summary>
    public static void Start(int steps, string folder)
    {
        var task = new SpiralTask(seed: 7);
        using var optimizer = Optimizer(task);
        task.Train(optimizer, steps);
        task.Model.save(Path.Combine(folder, "model.bin"));
        optimizer.SaveCheckpoint(Path.Combine(folder, "optimizer.ckpt"));
    }

    /// <summary>
    /// Loads both from <paramref name="folder"/> and runs the remaining steps; saves the final weights and, swapped
    /// into the model, their moving average there. Returns the step it resumed at and the two evaluation losses.
    /// </summary>
    public static (long ResumedAt, double Loss, double AverageLoss) Continue(string folder)
    {
        var task = new SpiralTask(seed: 7);
        task.Model.load(Path.Combine(folder, "model.bin"));
        using var optimizer = Optimizer(task);
        optimizer.LoadCheckpoint(Path.Combine(folder, "optimizer.ckpt"));
        long resumedAt = optimizer.StepCount;
        task.Train(optimizer, TotalSteps - (int)resumedAt, from: (int)resumedAt);
        task.Model.save(Path.Combine(folder, "final.bin"));
        double loss = task.Evaluate().Loss;
        using (optimizer.Stage<WeightAverage>().SwapIn())
        {
            task.Model.save(Path.Combine(folder, "final-ema.bin"));
            return (resumedAt, loss, task.Evaluate().Loss);
        }
    }

    /// <summary>The final weights and their average that a continued run saved in <paramref name="folder"/>.</summary>
    public static (Tensor[] Weights, Tensor[] Average) SavedWeights(string folder)
    {
        var task = new SpiralTask(seed: 7);
        task.Model.load(Path.Combine(folder, "final.bin"));
        var weights = Weights(task);
        task.Model.load(Path.Combine(folder, "final-ema.bin"));
        return (weights, Weights(task));
    }

    static Tensor[] Weights(SpiralTask task) => task.Model.parameters().Select(p => p.detach().clone()).ToArray();

    /// <summary>Whether two runs' weights and averages are equal bit for bit.</summary>
    public static bool Identical((Tensor[] Weights, Tensor[] Average) a, (Tensor[] Weights, Tensor[] Average) b) =>
        Identical(a.Weights, b.Weights) && Identical(a.Average, b.Average);

    static bool Identical(Tensor[] a, Tensor[] b) =>
        a.Length == b.Length && a.Zip(b).All(pair => pair.First.shape.SequenceEqual(pair.Second.shape) && pair.First.eq(pair.Second).all().item<bool>());
}
