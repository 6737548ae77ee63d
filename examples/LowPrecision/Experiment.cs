using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace LowPrecision;

/// <summary>How one run keeps its parameters.</summary>
public sealed record Variant(string Name, ScalarType Type, HalfPrecisionRounding Rounding);

/// <summary>One run's record: its training losses, its held-out loss at the end, and how far its parameters ended from the float32 run's.</summary>
public sealed record RunResult(Variant Variant, IReadOnlyList<double> Losses, double HeldOutLoss, float[] FinalParameters)
{
    /// <summary>
    /// The distance of the final parameters from <paramref name="reference"/>'s, relative to how far the reference moved
    /// from the start: 0 is the float32 run's trajectory, 1 is as far off as not training at all.
    /// </summary>
    public double DistanceFrom(RunResult reference, float[] start)
    {
        double off = 0, moved = 0;
        for (int i = 0; i < start.Length; i++)
        {
            off += Math.Pow(FinalParameters[i] - reference.FinalParameters[i], 2);
            moved += Math.Pow(reference.FinalParameters[i] - start[i], 2);
        }
        return Math.Sqrt(off / moved);
    }
}

/// <summary>
/// A student network learns a fixed random teacher (regression on Gaussian inputs) with AdamW at a learning rate whose
/// updates (about lr a step, Adam's) are below half a bfloat16 step for most weights: float32 parameters, bfloat16 ones
/// rounded to nearest (which lose those updates), bfloat16 ones rounded stochastically, and bfloat16 ones with Kahan
/// compensation (a bfloat16 buffer of what rounding took). Every run sees the same
/// batches and starts from the same weights (rounded to bfloat16 for the bfloat16 runs).
/// </summary>
public static class Experiment
{
    public const int Inputs = 16, Hidden = 64, Batch = 128;
    public const double LearningRate = 1e-4;

    public static readonly Variant[] Variants =
    {
        new("float32", ScalarType.Float32, HalfPrecisionRounding.Nearest),
        new("bfloat16, to nearest", ScalarType.BFloat16, HalfPrecisionRounding.Nearest),
        new("bfloat16, stochastic", ScalarType.BFloat16, HalfPrecisionRounding.Stochastic),
        new("bfloat16, Kahan", ScalarType.BFloat16, HalfPrecisionRounding.Kahan),
    };

    static nn.Module<Tensor, Tensor> Network(long seed)
    {
        torch.manual_seed(seed);
        return nn.Sequential(nn.Linear(Inputs, Hidden), nn.Tanh(), nn.Linear(Hidden, Hidden), nn.Tanh(), nn.Linear(Hidden, 1));
    }

    /// <summary>The teacher's targets for <paramref name="x"/>.</summary>
    static Tensor Targets(nn.Module<Tensor, Tensor> teacher, Tensor x)
    {
        using var _ = torch.no_grad();
        return teacher.call(x);
    }

    /// <summary>The student's starting weights, flattened (float32, after rounding to <paramref name="type"/>).</summary>
    public static float[] Flatten(nn.Module<Tensor, Tensor> model) =>
        model.parameters().SelectMany(p => p.detach().to(ScalarType.Float32).flatten().data<float>().ToArray()).ToArray();

    public static (RunResult[] Runs, float[] Start) Run(int steps, Action<string, int>? progress = null)
    {
        var teacher = Network(seed: 1);
        // Held-out data, and the batches: drawn once, from generators of their own, so every run sees the same ones.
        var heldOut = torch.randn(new long[] { 4096, Inputs }, generator: new Generator(2));
        var heldOutTargets = Targets(teacher, heldOut);
        var generator = new Generator(3);
        var batches = Enumerable.Range(0, steps).Select(_ => torch.randn(new long[] { Batch, Inputs }, generator: generator)).ToArray();
        var targets = batches.Select(x => Targets(teacher, x)).ToArray();

        float[]? start = null;
        var runs = new List<RunResult>();
        foreach (var variant in Variants)
        {
            var student = Network(seed: 4);
            student.to(variant.Type);
            start ??= Flatten(student);
            using var optimizer = new OptDsl.Optimizers.AdamW(student.parameters(), lr: LearningRate, weightDecay: 0)
            {
                Rounding = variant.Rounding,
                RoundingSeed = 5,
            };
            var losses = new double[steps];
            for (int t = 0; t < steps; t++)
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.mse_loss(student.call(batches[t].to(variant.Type)), targets[t].to(variant.Type));
                loss.backward();
                optimizer.step();
                losses[t] = loss.to(ScalarType.Float64).item<double>();
                progress?.Invoke(variant.Name, t + 1);
            }
            // The parameters as they are, judged in float32 on the held-out data: rounding the parameters is all that differs.
            var judge = Network(seed: 4);
            using (torch.no_grad())
                foreach (var (mine, theirs) in judge.parameters().Zip(student.parameters())) mine.copy_(theirs.to(ScalarType.Float32));
            double heldOutLoss;
            using (torch.no_grad()) heldOutLoss = nn.functional.mse_loss(judge.call(heldOut), heldOutTargets).item<float>();
            runs.Add(new RunResult(variant, losses, heldOutLoss, Flatten(student)));
        }
        return (runs.ToArray(), start!);
    }
}
