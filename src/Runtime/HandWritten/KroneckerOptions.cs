using System;
using System.IO;
using TorchSharp.Modules;

namespace OptDsl.Runtime.HandWritten;

/// <summary>The hyperparameters of a Kronecker-factored optimizer's parameter group (each method reads those it uses).</summary>
public sealed class KroneckerOptions : OptimizerOptions
{
    /// <summary>β₁, the first moment's decay.</summary>
    public double? Beta1 { get; set; }
    /// <summary>β₂, the second moment's decay.</summary>
    public double? Beta2 { get; set; }
    /// <summary>βₛ, the decay of Shampoo's factors L and R.</summary>
    public double? ShampooBeta { get; set; }
    /// <summary>ε of the elementwise (Adam) part.</summary>
    public double? Eps { get; set; }
    /// <summary>ε added to the factors' eigenvalues before their inverse roots (Shampoo).</summary>
    public double? MatrixEps { get; set; }
    /// <summary>Decoupled weight decay.</summary>
    public double? WeightDecay { get; set; }
    /// <summary>Updates between refreshes of the eigenbases or roots.</summary>
    public int? PreconditionFrequency { get; set; }
    /// <summary>Sides longer than this are not preconditioned.</summary>
    public int? MaxPreconditionDim { get; set; }
    /// <summary>The projection's rank (low-rank methods).</summary>
    public int? Rank { get; set; }
    /// <summary>α, the scale of the projected update (low-rank methods).</summary>
    public double? Scale { get; set; }
    /// <summary>The learning rate of the state-free sign step outside the subspace (FRUGAL; 0: GaLore).</summary>
    public double? ResidualLearningRate { get; set; }

    internal void FillFrom(KroneckerOptions d)
    {
        LearningRate ??= d.LearningRate;
        InitialLearningRate = LearningRate ?? 0;
        Beta1 ??= d.Beta1; Beta2 ??= d.Beta2; ShampooBeta ??= d.ShampooBeta; Eps ??= d.Eps; MatrixEps ??= d.MatrixEps;
        WeightDecay ??= d.WeightDecay; PreconditionFrequency ??= d.PreconditionFrequency; MaxPreconditionDim ??= d.MaxPreconditionDim;
        Rank ??= d.Rank ?? 1; Scale ??= d.Scale ?? 1; ResidualLearningRate ??= d.ResidualLearningRate ?? 0;
    }

    internal void Validate(string name, string where)
    {
        static bool Unit(double? x) => x is >= 0 and < 1;
        static bool Positive(double? x) => x is > 0 and < double.PositiveInfinity;
        string? problem =
            LearningRate is not (>= 0 and < double.PositiveInfinity) ? $"lr = {LearningRate} (must be finite and >= 0)"
            : !Unit(Beta1) ? $"beta1 = {Beta1} (must lie in [0, 1))"
            : !Unit(Beta2) ? $"beta2 = {Beta2} (must lie in [0, 1))"
            : !Unit(ShampooBeta) ? $"shampooBeta = {ShampooBeta} (must lie in [0, 1))"
            : !Positive(Eps) ? $"eps = {Eps} (must be finite and > 0)"
            : !Positive(MatrixEps) ? $"matrixEps = {MatrixEps} (must be finite and > 0)"
            : WeightDecay is not (>= 0 and < double.PositiveInfinity) ? $"weightDecay = {WeightDecay} (must be finite and >= 0)"
            : PreconditionFrequency is not >= 1 ? $"preconditionFrequency = {PreconditionFrequency} (must be >= 1)"
            : MaxPreconditionDim is not >= 1 ? $"maxPreconditionDim = {MaxPreconditionDim} (must be >= 1)"
            : Rank is not (null or >= 1) ? $"rank = {Rank} (must be >= 1)"
            : Scale is not (null or (> 0 and < double.PositiveInfinity)) ? $"scale = {Scale} (must be finite and > 0)"
            : ResidualLearningRate is not (null or (>= 0 and < double.PositiveInfinity)) ? $"residualLr = {ResidualLearningRate} (must be finite and >= 0)"
            : null;
        if (problem is not null) throw new ArgumentException($"{name}: {where} has {problem}.");
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(InitialLearningRate);
        foreach (var x in new[] { LearningRate!.Value, Beta1!.Value, Beta2!.Value, ShampooBeta!.Value, Eps!.Value, MatrixEps!.Value, WeightDecay!.Value })
            writer.Write(x);
        writer.Write(PreconditionFrequency!.Value);
        writer.Write(MaxPreconditionDim!.Value);
        writer.Write(Rank ?? 1);
        writer.Write(Scale ?? 1);
        writer.Write(ResidualLearningRate ?? 0);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(BinaryReader reader)
    {
        var loaded = new KroneckerOptions { InitialLearningRate = reader.ReadDouble() };
        (loaded.LearningRate, loaded.Beta1, loaded.Beta2, loaded.ShampooBeta, loaded.Eps, loaded.MatrixEps, loaded.WeightDecay) =
            (reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
        (loaded.PreconditionFrequency, loaded.MaxPreconditionDim) = (reader.ReadInt32(), reader.ReadInt32());
        (loaded.Rank, loaded.Scale, loaded.ResidualLearningRate) = (reader.ReadInt32(), reader.ReadDouble(), reader.ReadDouble());
        loaded.Validate("Kronecker-factored optimizer", "the checkpoint");
        LoadStateDict(loaded);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerOptions source)
    {
        if (source is not KroneckerOptions o) throw new ArgumentException($"Cannot load options of {source.GetType().Name} into KroneckerOptions.");
        (InitialLearningRate, LearningRate, Beta1, Beta2, ShampooBeta, Eps, MatrixEps, WeightDecay, PreconditionFrequency, MaxPreconditionDim) =
            (o.InitialLearningRate, o.LearningRate, o.Beta1, o.Beta2, o.ShampooBeta, o.Eps, o.MatrixEps, o.WeightDecay, o.PreconditionFrequency, o.MaxPreconditionDim);
        (Rank, Scale, ResidualLearningRate) = (o.Rank, o.Scale, o.ResidualLearningRate);
    }
}
