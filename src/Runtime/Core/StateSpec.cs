namespace OptDsl.Runtime.Core;

/// <summary>One declared per-element state.</summary>
/// <param name="Name">The name as declared.</param>
/// <param name="Init">How it starts.</param>
/// <param name="Constant">The start value when <paramref name="Init"/> is <see cref="StateInitKind.Constant"/>.</param>
/// <param name="HyperIndex">The hyperparameter it starts from when <paramref name="Init"/> is <see cref="StateInitKind.Hyper"/>; else -1.</param>
/// <param name="OnlyIfHyper">The flag hyperparameter that must be true for it to exist; -1 when it always exists.</param>
/// <param name="Shape">One value per element, per row or per column.</param>
public sealed record StateSpec(string Name, StateInitKind Init, double Constant = 0, int HyperIndex = -1, int OnlyIfHyper = -1,
    StateShape Shape = StateShape.Elements);
