using System;
using System.IO;
using TorchSharp.Modules;

namespace OptDsl.Runtime.HandWritten;

/// <summary>The hyperparameters of a <see cref="PsgdKron"/> parameter group.</summary>
/// <remarks>
/// The preconditioner-update probability of step t is <c>max(floor, max · decay^max(t − flatSteps, 0))</c>: the
/// annealed schedule by default, a constant p with <c>max = floor = p</c>.
/// </remarks>
public sealed class PsgdKronOptions : OptimizerOptions
{
    /// <summary>β₁, the momentum's decay (0: the gradient itself is preconditioned).</summary>
    public double? Beta1 { get; set; }
    /// <summary>Decoupled weight decay: <c>w ← w(1 − lr·wd)</c> beside the step.</summary>
    public double? WeightDecay { get; set; }
    /// <summary>The preconditioner's step size (the author's <c>lr_preconditioner</c>), in (0, 1).</summary>
    public double? PreconditionerLearningRate { get; set; }
    /// <summary>The scale Q starts at (each factor gets its d-th root); 0: from the first gradient, <c>mean(g⁴)^(−1/8)</c>.</summary>
    public double? InitScale { get; set; }
    /// <summary>The largest dimension given a triangular factor; longer ones get a diagonal factor.</summary>
    public int? MaxSizeTriangular { get; set; }
    /// <summary>Whether a vector (or scalar) parameter gets a diagonal factor whatever its length.</summary>
    public bool? DiagonalVectors { get; set; }
    /// <summary>The largest RMS a parameter's preconditioned step may have (0: no clipping).</summary>
    public double? UpdateClip { get; set; }
    /// <summary>The update probability before and at the start of its decay.</summary>
    public double? MaxUpdateProbability { get; set; }
    /// <summary>The update probability the decay stops at.</summary>
    public double? MinUpdateProbability { get; set; }
    /// <summary>Steps at the largest probability before the decay starts.</summary>
    public int? FlatSteps { get; set; }
    /// <summary>The probability's factor per step once it decays.</summary>
    public double? UpdateProbabilityDecay { get; set; }
    /// <summary>The seed of the probe vectors and of the update and balancing draws.</summary>
    public ulong? Seed { get; set; }

    /// <summary>The preconditioner-update probability at step <paramref name="step"/> (1 at the first).</summary>
    public double UpdateProbability(long step) =>
        Math.Max(MinUpdateProbability!.Value, MaxUpdateProbability!.Value * Math.Pow(UpdateProbabilityDecay!.Value, Math.Max(step - FlatSteps!.Value, 0)));

    internal void FillFrom(PsgdKronOptions d)
    {
        LearningRate ??= d.LearningRate;
        InitialLearningRate = LearningRate ?? 0;
        Beta1 ??= d.Beta1; WeightDecay ??= d.WeightDecay; PreconditionerLearningRate ??= d.PreconditionerLearningRate;
        InitScale ??= d.InitScale; MaxSizeTriangular ??= d.MaxSizeTriangular; DiagonalVectors ??= d.DiagonalVectors;
        UpdateClip ??= d.UpdateClip; MaxUpdateProbability ??= d.MaxUpdateProbability; MinUpdateProbability ??= d.MinUpdateProbability;
        FlatSteps ??= d.FlatSteps; UpdateProbabilityDecay ??= d.UpdateProbabilityDecay; Seed ??= d.Seed;
    }

    internal void Validate(string name, string where)
    {
        static bool Finite(double? x, double low) => x is { } v && v >= low && v < double.PositiveInfinity;
        string? problem =
            !Finite(LearningRate, 0) ? $"lr = {LearningRate} (must be finite and >= 0)"
            : Beta1 is not (>= 0 and < 1) ? $"beta1 = {Beta1} (must lie in [0, 1))"
            : !Finite(WeightDecay, 0) ? $"weightDecay = {WeightDecay} (must be finite and >= 0)"
            : PreconditionerLearningRate is not (> 0 and < 1) ? $"preconditionerLr = {PreconditionerLearningRate} (must lie in (0, 1))"
            : !Finite(InitScale, 0) ? $"initScale = {InitScale} (must be finite and > 0, or 0 for the first gradient's)"
            : MaxSizeTriangular is not >= 0 ? $"maxSizeTriangular = {MaxSizeTriangular} (must be >= 0)"
            : DiagonalVectors is null ? "no diagonalVectors"
            : !Finite(UpdateClip, 0) ? $"updateClip = {UpdateClip} (must be finite and > 0, or 0 for none)"
            : MaxUpdateProbability is not (>= 0 and <= 1) ? $"maxUpdateProbability = {MaxUpdateProbability} (must lie in [0, 1])"
            : MinUpdateProbability is not (>= 0 and <= 1) || MinUpdateProbability > MaxUpdateProbability
                ? $"minUpdateProbability = {MinUpdateProbability} (must lie in [0, maxUpdateProbability = {MaxUpdateProbability}])"
            : FlatSteps is not >= 0 ? $"flatSteps = {FlatSteps} (must be >= 0)"
            : UpdateProbabilityDecay is not (> 0 and <= 1) ? $"updateProbabilityDecay = {UpdateProbabilityDecay} (must lie in (0, 1])"
            : Seed is null ? "no seed"
            : null;
        if (problem is not null) throw new ArgumentException($"{name}: {where} has {problem}.");
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(InitialLearningRate);
        foreach (var x in new[] { LearningRate!.Value, Beta1!.Value, WeightDecay!.Value, PreconditionerLearningRate!.Value, InitScale!.Value, UpdateClip!.Value,
                     MaxUpdateProbability!.Value, MinUpdateProbability!.Value, UpdateProbabilityDecay!.Value })
            writer.Write(x);
        writer.Write(MaxSizeTriangular!.Value);
        writer.Write(FlatSteps!.Value);
        writer.Write(DiagonalVectors!.Value);
        writer.Write(Seed!.Value);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(BinaryReader reader)
    {
        var o = new PsgdKronOptions { InitialLearningRate = reader.ReadDouble() };
        (o.LearningRate, o.Beta1, o.WeightDecay, o.PreconditionerLearningRate, o.InitScale, o.UpdateClip) =
            (reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
        (o.MaxUpdateProbability, o.MinUpdateProbability, o.UpdateProbabilityDecay) = (reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
        (o.MaxSizeTriangular, o.FlatSteps, o.DiagonalVectors, o.Seed) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadBoolean(), reader.ReadUInt64());
        o.Validate("PSGD Kron", "the checkpoint");
        LoadStateDict(o);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerOptions source)
    {
        if (source is not PsgdKronOptions o) throw new ArgumentException($"Cannot load options of {source.GetType().Name} into PsgdKronOptions.");
        (InitialLearningRate, LearningRate, Beta1, WeightDecay, PreconditionerLearningRate, InitScale, MaxSizeTriangular, DiagonalVectors) =
            (o.InitialLearningRate, o.LearningRate, o.Beta1, o.WeightDecay, o.PreconditionerLearningRate, o.InitScale, o.MaxSizeTriangular, o.DiagonalVectors);
        (UpdateClip, MaxUpdateProbability, MinUpdateProbability, FlatSteps, UpdateProbabilityDecay, Seed) =
            (o.UpdateClip, o.MaxUpdateProbability, o.MinUpdateProbability, o.FlatSteps, o.UpdateProbabilityDecay, o.Seed);
    }
}
