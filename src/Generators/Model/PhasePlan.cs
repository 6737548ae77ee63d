using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Analysis;

namespace OptDsl.Generators.Model;

/// <summary>
/// What a reduction of a fused rule spans: its own tensor, the tensors of the parameter's group, every tensor of the
/// step, or one row or one column of its tensor's matrix view (<c>shape[0]</c> rows; <c>Matrix.RowMean</c> and kin:
/// one result per row or column).
/// </summary>
public enum ReductionScope
{
    Tensor,
    Group,
    Step,
    Row,
    Column,
}

/// <summary>
/// One reduction of a rule that the fused backends compute in a pass of its own: the call, the phase that accumulates
/// it (<see cref="Level"/>; its value is read from the phase after), and its number among the rule's reductions (the
/// index of its partial sums and of its result in the runtime's buffers). <see cref="Op"/> is how it accumulates and
/// finishes (the runtime's <c>ReductionOp</c>), <see cref="Scope"/> what it spans, and <see cref="Argument"/> what
/// each element adds: the call's argument, or for a variance the squared deviation from a mean planned before it.
/// With <see cref="IsMatrix"/> it is matrix work instead (<c>Matrix.NewtonSchulz</c>): phase <see cref="Level"/>
/// stores its argument for every element, the runtime orthogonalises the stored matrices, and later phases read the
/// result per element; <see cref="Index"/> then numbers it among the rule's matrix calls.
/// </summary>
public sealed record PlannedReduction(int Index, Call Call, int Level, bool IsMatrix = false, string Op = "Sum",
    ReductionScope Scope = ReductionScope.Tensor, Expr? Accumuland = null)
{
    /// <summary>Whether it has one result per row or per column of its tensor.</summary>
    public bool PerRowOrColumn => Scope is ReductionScope.Row or ReductionScope.Column;

    /// <summary>What each element contributes.</summary>
    public Expr Argument => Accumuland ?? Call.Arguments[0];
}

/// <summary>
/// How the fused backends run a rule with reductions: in <see cref="Phases"/> passes over every element. Phase k
/// computes the rule as far as it can with the results of earlier phases and accumulates the reductions of level k;
/// it writes nothing else. The last phase is the whole rule with every reduction known, and the only one that writes
/// the parameter and state — so a value a later phase needs is recomputed from the unchanged memory, never stored.
/// A rule without reductions is one phase. <see cref="Blocker"/> says why a rule cannot be phased (null when it can).
/// With <see cref="HostReadsResults"/> scalar state takes values computed from reductions: the host half runs again
/// after each phase with the results known so far (from the scalar state as it was before the step), and
/// <see cref="HostLocals"/> are the locals it computes on the host for that as well.
/// A rule with work per row or column (<see cref="RowWise"/>: state kept per row or column, or reductions per row or
/// column) runs its phases row by row: the fused CPU path runs it, and the CUDA one where the work is per row only
/// (<see cref="CudaBlocker"/>).
/// </summary>
public sealed record PhasePlan(int Phases, EquatableArray<PlannedReduction> Reductions, string? Blocker,
    bool HostReadsResults = false, EquatableArray<string> HostLocals = default, bool RowWise = false, bool ColumnWork = false)
{
    /// <summary>
    /// Why the CUDA backend does not run the rule although the CPU one does (null when it does): work per column
    /// (state per column, <c>Matrix.Column*</c>), and row work whose reductions the host would combine, are fused on the
    /// CPU only so far.
    /// </summary>
    public string? CudaBlocker =>
        ColumnWork ? "column work (state per column, Matrix.Column*) is fused on the CPU only so far"
        : RowWise && (HostReadsResults || CrossesTensors) ? "row work in a rule whose reductions the host combines is fused on the CPU only so far"
        : null;

    /// <summary>An elementwise rule: one pass, nothing to reduce.</summary>
    public static readonly PhasePlan Elementwise = new(1, EquatableArray<PlannedReduction>.Empty, null);

    /// <summary>Whether the fused backends can run the rule.</summary>
    public bool Fusable => Blocker is null;

    /// <summary>Whether the rule needs more than one pass.</summary>
    public bool HasReductions => Reductions.Count > 0;

    /// <summary>The reductions proper, by index.</summary>
    public IEnumerable<PlannedReduction> Sums => Reductions.Where(r => !r.IsMatrix);

    /// <summary>The matrix calls, by index.</summary>
    public IEnumerable<PlannedReduction> Matrices => Reductions.Where(r => r.IsMatrix);

    /// <summary>Whether a reduction spans more than its own tensor.</summary>
    public bool CrossesTensors => Reductions.Any(r => r.Scope is ReductionScope.Group or ReductionScope.Step);

    /// <summary>
    /// The planned reductions in <paramref name="e"/>, innermost first, each once — inside a reduction, those its
    /// <see cref="PlannedReduction.Argument"/> holds (a variance's mean, which the rule does not write, and which the
    /// squared deviation reads twice).
    /// </summary>
    public IEnumerable<PlannedReduction> In(Expr e)
    {
        var byCall = Reductions.ToDictionary(r => r.Call, r => r, ByReference<Call>.Instance);
        var found = new List<PlannedReduction>();
        Collect(e, byCall, found);
        return found.Distinct(ByReference<PlannedReduction>.Instance);
    }

    static void Collect(Expr e, Dictionary<Call, PlannedReduction> byCall, List<PlannedReduction> found)
    {
        switch (e)
        {
            case Call c when byCall.TryGetValue(c, out var r):
                Collect(r.Argument, byCall, found);
                if (r.IsMatrix) foreach (var a in c.Arguments.Skip(1)) Collect(a, byCall, found);
                found.Add(r);
                break;
            case Call c: foreach (var a in c.Arguments) Collect(a, byCall, found); break;
            case Unary u: Collect(u.Operand, byCall, found); break;
            case Binary b: Collect(b.Left, byCall, found); Collect(b.Right, byCall, found); break;
            case Select s: Collect(s.Condition, byCall, found); Collect(s.WhenTrue, byCall, found); Collect(s.WhenFalse, byCall, found); break;
            case Convert c: Collect(c.Operand, byCall, found); break;
        }
    }
}
