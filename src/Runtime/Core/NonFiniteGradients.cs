namespace OptDsl.Runtime.Core;

/// <summary>What a declared optimizer's step does when a gradient holds NaN or ±infinity.</summary>
public enum NonFiniteGradients
{
    /// <summary>
    /// Update as usual (the default, as PyTorch's optimizers do): the non-finite values flow into the state and the
    /// parameters. No check, so no host synchronisation.
    /// </summary>
    Update,

    /// <summary>
    /// Skip the whole step — no parameter, state or step counter changes — and count it in
    /// <see cref="DeclaredOptimizer.SkippedSteps"/>, as mixed-precision training does after an overflow. Costs one
    /// device reduction and one host read per step.
    /// </summary>
    Skip,

    /// <summary>Throw before anything changes, naming the parameter (one device reduction and one host read per step).</summary>
    Throw,
}
