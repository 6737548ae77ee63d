namespace OptDsl.Runtime.Core;

/// <summary>One declared hyperparameter.</summary>
/// <param name="Name">The name as declared (<c>beta1</c>, <c>weightDecay</c>).</param>
/// <param name="Kind">Its type.</param>
/// <param name="Default">Its default, or null when the constructor requires it.</param>
/// <param name="Range">Its valid values, or null for any finite value.</param>
public sealed record HyperSpec(string Name, HyperKind Kind, double? Default, Interval? Range);
