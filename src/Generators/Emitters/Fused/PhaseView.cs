using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Analysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// One phase of a rule as a target writes it (<see cref="PhasePlan"/>): which reductions it reads as results, which it
/// accumulates, and whether it is the last — the one that writes the parameter and state. An elementwise rule has one.
/// </summary>
sealed class PhaseView
{
    readonly Dictionary<Call, PlannedReduction> _byCall;

    public PhaseView(int number, PhasePlan plan, PhaseNeeds needs)
    {
        Number = number;
        Plan = plan;
        Needs = needs;
        _byCall = plan.Reductions.ToDictionary(r => r.Call, r => r, ByReference<Call>.Instance);
    }

    public int Number { get; }

    public PhasePlan Plan { get; }

    /// <summary>What of the rule the phase computes (everything, unless the target leaves out what later phases do).</summary>
    public PhaseNeeds Needs { get; }

    public bool IsLast => Number == Plan.Phases;

    /// <summary>The reductions the phase accumulates.</summary>
    public IEnumerable<PlannedReduction> Accumulated => Plan.Reductions.Where(r => r.Level == Number);

    /// <summary>The reduction <paramref name="call"/> is.</summary>
    public PlannedReduction Of(Call call) => _byCall[call];

    /// <summary>
    /// Whether this phase has the reduction's result; where it has not, its variable holds 0 (a variable, not a literal,
    /// so that no condition on it becomes a constant the compiler warns about), and nothing this phase accumulates
    /// depends on it.
    /// </summary>
    public bool Knows(PlannedReduction r) => r.Level < Number;

    /// <summary>The reductions this phase accumulates inside <paramref name="e"/>, innermost first.</summary>
    public IEnumerable<PlannedReduction> AccumulatedIn(Expr e) => Plan.In(e).Where(r => r.Level == Number);

    /// <summary>The variable of a reduction's result (or a matrix call's, per element) in element code.</summary>
    public static string Result(PlannedReduction r) => (r.IsMatrix ? "m_" : "r_") + r.Index;
}
