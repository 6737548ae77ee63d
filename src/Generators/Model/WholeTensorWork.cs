namespace OptDsl.Generators.Model;

/// <summary>How the runtime runs a rule's whole-tensor requests: not at all, per matrix shape, or over every tensor.</summary>
public enum StepsKind { None, PerShape, AllTensors }

/// <summary>
/// What of an update works on whole tensors rather than one element: its <c>Reduce</c>/<c>Matrix</c> calls and its
/// row and column state, as messages name them. A rule without any is one elementwise pass, which the fused
/// backends run.
/// </summary>
/// <param name="Descriptions">Everything whole-tensor, e.g. <c>Reduce.Norm</c>, <c>state 'r' per row</c>.</param>
/// <param name="MatrixWork">The part that needs the parameter as a matrix.</param>
/// <param name="MatrixDimensions">The fewest dimensions a parameter needs (2 for orthogonalisation, else 1).</param>
/// <param name="Steps">Whether the portable update pauses for the runtime to answer requests across tensors.</param>
public sealed record WholeTensorWork(EquatableArray<string> Descriptions, EquatableArray<string> MatrixWork, int MatrixDimensions, StepsKind Steps)
{
    public static readonly WholeTensorWork None = new(EquatableArray<string>.Empty, EquatableArray<string>.Empty, 1, StepsKind.None);

    /// <summary>Whether the update is one elementwise pass, which the fused backends run.</summary>
    public bool IsElementwise => Descriptions.Count == 0;
}
