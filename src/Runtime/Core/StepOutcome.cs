namespace OptDsl.Runtime.Core;

/// <summary>What one step of an optimizer that checks before it changes anything came to.</summary>
internal enum StepOutcome
{
    /// <summary>Parameters were updated and the step was counted.</summary>
    Updated,

    /// <summary>
    /// No parameter had a gradient, so nothing was updated and nothing changed: no step was counted and no schedule
    /// moved, as PyTorch's optimizers leave a parameter without a gradient untouched.
    /// </summary>
    NothingToUpdate,

    /// <summary>
    /// Skipped (a non-finite gradient under <see cref="NonFiniteGradients.Skip"/>, or the hook before the update said
    /// no): nothing changed but the count of skipped steps.
    /// </summary>
    Skipped,
}
