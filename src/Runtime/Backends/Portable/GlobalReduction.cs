namespace OptDsl.Runtime.Backends.Portable;

/// <summary>What a <see cref="GlobalRequest"/> computes over all tensors.</summary>
public enum GlobalReduction
{
    /// <summary>The sum of every element.</summary>
    Sum,
    /// <summary>The L2 norm of all elements together.</summary>
    Norm,
    /// <summary>The largest absolute value.</summary>
    MaxAbs,
}
