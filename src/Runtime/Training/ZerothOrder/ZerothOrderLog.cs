using System.Collections.Generic;

namespace OptDsl.Runtime.Training.ZerothOrder;

/// <summary>A zeroth-order run: its settings (the learning rate and decay as they stand now) and every step taken.</summary>
public sealed record ZerothOrderLog(ulong Seed, double Eps, int Perturbations, double Sparsity, double LearningRate, double WeightDecay,
    IReadOnlyList<ZerothOrderStep> Steps);
