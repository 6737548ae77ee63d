using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Generators.Model;

/// <summary>
/// One per-tensor reduction of a rule that the fused backends compute in a pass of its own: the call, the phase that
/// accumulates it (<see cref="Level"/>; its value is read from the phase after), and its number among the rule's
/// reductions (the index of its partial sums and of its result in the runtime's buffers). With
/// <see cref="IsMatrix"/> it is matrix work instead (<c>Matrix.NewtonSchulz</c>): phase <see cref="Level"/> stores its
/// argument for every element, the runtime orthogonalises the stored matrices, and later phases read the result per
/// element; <see cref="Index"/> then numbers it among the rule's matrix calls.
/// </summary>
public sealed record PlannedReduction(int Index, Call Call, int Level, bool IsMatrix = false);

/// <summary>
/// How the fused backends run a rule with reductions: in <see cref="Phases"/> passes over every element. Phase k
/// computes the rule as far as it can with the results of earlier phases and accumulates the reductions of level k;
/// it writes nothing else. The last phase is the whole rule with every reduction known, and the only one that writes
/// the parameter and state — so a value a later phase needs is recomputed from the unchanged memory, never stored.
/// A rule without reductions is one phase. <see cref="Blocker"/> says why a rule cannot be phased (null when it can).
/// </summary>
public sealed record PhasePlan(int Phases, EquatableArray<PlannedReduction> Reductions, string? Blocker)
{
    /// <summary>An elementwise rule: one pass, nothing to reduce.</summary>
    public static readonly PhasePlan Elementwise = new(1, EquatableArray<PlannedReduction>.Empty, null);

    /// <summary>Whether the fused backends can run the rule.</summary>
    public bool Fusable => Blocker is null;

    /// <summary>Whether the rule needs more than one pass.</summary>
    public bool HasReductions => Reductions.Count > 0;

    /// <summary>The per-tensor reductions proper, by index.</summary>
    public IEnumerable<PlannedReduction> Sums => Reductions.Where(r => !r.IsMatrix);

    /// <summary>The matrix calls, by index.</summary>
    public IEnumerable<PlannedReduction> Matrices => Reductions.Where(r => r.IsMatrix);
}
