namespace OptDsl.Runtime.Core;

/// <summary>How a per-element state tensor starts.</summary>
public enum StateInitKind
{
    /// <summary>A constant (zero unless declared otherwise).</summary>
    Constant,
    /// <summary>The value of a hyperparameter of the parameter's group.</summary>
    Hyper,
    /// <summary>The parameter's gradient at its first step.</summary>
    FirstGradient,
    /// <summary>The parameter's value just before its first step.</summary>
    Parameter,
}
