namespace OptDsl.Runtime.Core;

/// <summary>What kind of value a hyperparameter holds; all are stored as <see cref="double"/>.</summary>
public enum HyperKind
{
    /// <summary>A <c>float</c> or <c>double</c>.</summary>
    Real,
    /// <summary>An <c>int</c>.</summary>
    Integer,
    /// <summary>A <c>bool</c>, stored as 0 or 1.</summary>
    Flag,
}
