using System;

namespace OptDsl;

/// <summary>
/// Marks the update rule: <c>void Update(ref float p, float g, int t)</c>, scalar math for one parameter element
/// <c>p</c> with gradient <c>g</c> at step <c>t</c> (counted from 1 per parameter; the parameter may be omitted).
/// </summary>
/// <remarks>
/// Supported: arithmetic and compound assignment, locals, <c>MathF</c>/<c>Math</c> functions and <see cref="OptMath"/>,
/// comparisons, logical operators, the conditional operator and if/else. Anything else is a compiler diagnostic.
/// Work that only depends on hyperparameters and the step (bias corrections, <c>lr * weightDecay</c>) is found by
/// the generator and computed once per step on the host.
/// </remarks>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class UpdateAttribute : Attribute
{
}
