using System;

namespace OptDsl;

/// <summary>
/// Marks a <c>double</c> (or <c>float</c>) field as per-tensor scalar state: one value per parameter tensor,
/// updated on the host from hyperparameters, the step and other scalar state only (NAdam's running product of
/// momentum coefficients, for example). Starts at the field's initializer.
/// </summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
public sealed class ScalarStateAttribute : Attribute
{
}
