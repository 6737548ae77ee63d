using System;
using System.Linq;

namespace OptDsl.Runtime.Backends;

/// <summary>How a per-tensor reduction of a fused rule accumulates its elements and finishes.</summary>
public enum ReductionOp
{
    /// <summary>The sum of the elements.</summary>
    Sum,
    /// <summary>Their mean.</summary>
    Mean,
    /// <summary>The L2 norm: the square root of the sum of squares.</summary>
    Norm,
    /// <summary>The root mean square.</summary>
    Rms,
    /// <summary>The largest element (NaN if any is NaN).</summary>
    Max,
    /// <summary>The smallest element (NaN if any is NaN).</summary>
    Min,
    /// <summary>The largest magnitude (NaN if any is NaN).</summary>
    MaxAbs,
    /// <summary>The unbiased variance, as torch.var: the sum of squared deviations from a mean reduced in an earlier phase, over n − 1.</summary>
    Var,
    /// <summary>The unbiased standard deviation: the square root of <see cref="Var"/>.</summary>
    Std,
}

/// <summary>What a reduction of a fused rule spans.</summary>
public enum ReductionScope
{
    /// <summary>Its own tensor (<c>Reduce.Sum</c> and kin).</summary>
    Tensor,
    /// <summary>Every tensor of the parameter's group at the step (<c>Reduce.GroupNorm</c> and kin).</summary>
    Group,
    /// <summary>Every tensor of the step (<c>Reduce.GlobalNorm</c> and kin).</summary>
    Step,
    /// <summary>Each row of its tensor's matrix view (<c>shape[0]</c> rows; <c>Matrix.RowMean</c> and kin): one result per row.</summary>
    Row,
    /// <summary>Each column of its tensor's matrix view (<c>Matrix.ColumnMean</c> and kin): one result per column.</summary>
    Column,
}

/// <summary>One reduction of a fused rule: the phase that accumulates it (from 1), how, and over which tensors.</summary>
public sealed record ReductionSpec(int Level, ReductionOp Op, ReductionScope Scope = ReductionScope.Tensor)
{
    /// <summary>
    /// The host conditions the rule accumulates it under, outermost first: s + 1 where scalar slot s must be true
    /// (non-zero), −(s + 1) where it must be false. Empty: always.
    /// </summary>
    public int[] When { get; init; } = Array.Empty<int>();

    /// <summary>Whether it has one result per row or per column of its tensor.</summary>
    public bool PerRowOrColumn => Scope is ReductionScope.Row or ReductionScope.Column;

    /// <summary>Whether a tensor with these host scalars accumulates it at this step.</summary>
    public bool Holds(ReadOnlySpan<float> scalars)
    {
        foreach (var condition in When)
            if ((scalars[Math.Abs(condition) - 1] != 0f) != (condition > 0)) return false;
        return true;
    }
}

/// <summary>
/// One matrix call of a fused rule (<c>Matrix.NewtonSchulz</c>): phase <paramref name="Level"/> stores its argument for
/// every element, the runtime orthogonalises each tensor's stored matrix (<c>shape[0]</c> rows) before the next phase,
/// and later phases read the result per element. The iteration's steps and coefficients are host values, in the
/// scalar slots named here.
/// </summary>
public sealed record MatrixSpec(int Level, int StepsSlot, int ASlot, int BSlot, int CSlot, int ScheduleSlot);

/// <summary>
/// How a fused rule with reductions runs (emitted by the generator): <see cref="Phases"/> passes over every element,
/// phase k accumulating the reductions of level k into one partial per chunk — combined per tensor, in chunk order,
/// before phase k + 1 reads the result — and the last phase alone writing the parameter and state.
/// </summary>
public sealed class ReductionPlan
{
    /// <summary>A plan of <paramref name="phases"/> passes for <paramref name="reductions"/>; throws where it cannot run.</summary>
    public ReductionPlan(int phases, params ReductionSpec[] reductions) : this(phases, reductions, Array.Empty<MatrixSpec>()) { }

    /// <summary>A plan of <paramref name="phases"/> passes for <paramref name="reductions"/> and <paramref name="matrices"/>; throws where it cannot run.</summary>
    public ReductionPlan(int phases, ReductionSpec[] reductions, MatrixSpec[] matrices)
    {
        if (phases < 2 || reductions.Length + matrices.Length == 0
            || reductions.Any(r => r.Level < 1 || r.Level >= phases) || matrices.Any(m => m.Level < 1 || m.Level >= phases))
            throw new ArgumentException("A reduction plan has two phases or more, and every reduction and matrix call a level before the last.");
        Phases = phases;
        Reductions = reductions;
        Matrices = matrices;
        // Read at every step: worked out once.
        CrossesTensors = reductions.Any(r => r.Scope is ReductionScope.Group or ReductionScope.Step);
        _perRowOrColumn = reductions.Any(r => r.PerRowOrColumn);
    }

    readonly bool _perRowOrColumn;

    /// <summary>
    /// How each declared state is kept (one value per element, row or column), in declaration order; empty where every
    /// state is per element.
    /// </summary>
    public Core.StateShape[] StateShapes { get; init; } = Array.Empty<Core.StateShape>();

    /// <summary>
    /// Whether the rule works per row or column (reductions per row or column, or state kept so): the fused CPU path
    /// then runs each tensor in chunks of whole rows of its matrix view.
    /// </summary>
    public bool RowWise => _perRowOrColumn || Array.Exists(StateShapes, s => s != Core.StateShape.Elements);

    /// <summary>Whether the rule works per column (reductions per column, or state kept so).</summary>
    public bool ColumnWork => Array.Exists(Reductions, r => r.Scope == ReductionScope.Column) || Array.Exists(StateShapes, s => s == Core.StateShape.Columns);

    /// <summary>Passes over the elements; the last writes the parameter and state.</summary>
    public int Phases { get; }

    /// <summary>The reductions, by their index in the partial and result buffers.</summary>
    public ReductionSpec[] Reductions { get; }

    /// <summary>The matrix calls, by their index among the runtime's matrices.</summary>
    public MatrixSpec[] Matrices { get; }

    /// <summary>
    /// Whether scalar state takes values computed from reductions: the host half then runs again after each phase with
    /// the results known by then, each time from the scalar state as it was at the start of the step.
    /// </summary>
    public bool HostReadsResults { get; init; }

    /// <summary>
    /// Whether phase <paramref name="phase"/> (before the last) has work for a tensor with these host scalars: a matrix
    /// to store, or a reduction whose host conditions hold. A phase that has none for any tensor is skipped (SGD-SaI's
    /// statistics, taken at the first step only).
    /// </summary>
    public bool Needs(int phase, ReadOnlySpan<float> scalars)
    {
        foreach (var m in Matrices) if (m.Level == phase) return true;
        foreach (var r in Reductions) if (r.Level == phase && r.Holds(scalars)) return true;
        return false;
    }

    /// <summary>Whether a reduction spans more than its own tensor (so every tensor of the step must run together).</summary>
    public bool CrossesTensors { get; }

    /// <summary>What an empty accumulation holds: 0 for sums, -inf for a maximum, +inf for a minimum.</summary>
    public static float Identity(ReductionOp op) => op switch
    {
        ReductionOp.Max => float.NegativeInfinity,
        ReductionOp.Min => float.PositiveInfinity,
        _ => 0f,
    };

    /// <summary>Two partial accumulations as one (NaN wins a maximum or minimum, as torch's reductions have it).</summary>
    public static double Combine(ReductionOp op, double a, double b) => op switch
    {
        ReductionOp.Max or ReductionOp.MaxAbs => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        ReductionOp.Min => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
        _ => a + b,
    };

    /// <summary>The reduction's value from its whole accumulation over <paramref name="count"/> elements.</summary>
    public static double Finish(ReductionOp op, double accumulated, long count) => op switch
    {
        ReductionOp.Mean => accumulated / count,
        ReductionOp.Norm => Math.Sqrt(accumulated),
        ReductionOp.Rms => Math.Sqrt(accumulated / count),
        ReductionOp.Var => count < 2 ? double.NaN : accumulated / (count - 1),
        ReductionOp.Std => count < 2 ? double.NaN : Math.Sqrt(accumulated / (count - 1)),
        _ => accumulated,
    };
}
