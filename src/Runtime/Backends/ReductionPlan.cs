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
}

/// <summary>One reduction of a fused rule: the phase that accumulates it (from 1) and how.</summary>
public sealed record ReductionSpec(int Level, ReductionOp Op);

/// <summary>
/// How a fused rule with reductions runs (emitted by the generator): <see cref="Phases"/> passes over every element,
/// phase k accumulating the reductions of level k into one partial per chunk — combined per tensor, in chunk order,
/// before phase k + 1 reads the result — and the last phase alone writing the parameter and state.
/// </summary>
public sealed class ReductionPlan
{
    /// <summary>A plan of <paramref name="phases"/> passes for <paramref name="reductions"/>; throws where it cannot run.</summary>
    public ReductionPlan(int phases, params ReductionSpec[] reductions)
    {
        if (phases < 2 || reductions.Length == 0 || reductions.Any(r => r.Level < 1 || r.Level >= phases))
            throw new ArgumentException("A reduction plan has two phases or more, and every reduction a level before the last.");
        Phases = phases;
        Reductions = reductions;
    }

    /// <summary>Passes over the elements; the last writes the parameter and state.</summary>
    public int Phases { get; }

    /// <summary>The reductions, by their index in the partial and result buffers.</summary>
    public ReductionSpec[] Reductions { get; }

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
        _ => accumulated,
    };
}
