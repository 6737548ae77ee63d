using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>Which parameters the fused backends run row by row (a rule with work per row or column, <see cref="ReductionPlan.RowWise"/>).</summary>
internal static class RowView
{
    /// <summary>The most columns a row may have (a chunk of whole rows is one span indexed by ints).</summary>
    public const int MaxColumns = 1 << 24;

    /// <summary>
    /// Whether a parameter has a matrix view to run row by row: one dimension or more, not empty, with at most
    /// <see cref="MaxColumns"/> elements a row and an int's worth of rows. Others take the portable path.
    /// </summary>
    public static bool Accepts(Tensor p) =>
        p.dim() > 0 && p.NumberOfElements > 0 && p.NumberOfElements / p.size(0) <= MaxColumns && p.size(0) <= int.MaxValue;
}
