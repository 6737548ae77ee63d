using System;

namespace OptDsl;

/// <summary>
/// Marks a field as a hyperparameter: a <c>float</c>, <c>double</c>, <c>int</c> or <c>bool</c> with its default
/// as the field initializer (no initializer makes it a required constructor argument). Each parameter group
/// may override it. A field named <c>lr</c> is the learning rate that TorchSharp's LR schedulers drive.
/// </summary>
/// <example><code>
/// [Hyper("[0, 1)")] float beta1 = 0.9f;
/// [Hyper("(0, inf)")] float eps = 1e-8f;
/// [Hyper] bool amsgrad;
/// </code></example>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
public sealed class HyperAttribute : Attribute
{
    /// <summary>A hyperparameter without a declared range.</summary>
    public HyperAttribute() { }

    /// <summary>A hyperparameter whose valid values form <paramref name="range"/>.</summary>
    /// <param name="range">
    /// An interval in mathematical notation: <c>"[0, 1)"</c>, <c>"(0, inf)"</c>, <c>"[-1, 1]"</c>. Values outside it
    /// (and NaN) are refused with a message that names the hyperparameter and the range.
    /// </param>
    public HyperAttribute(string range) => Range = range;

    /// <summary>The valid values, as an interval such as <c>"[0, 1)"</c>; null for any finite value.</summary>
    public string? Range { get; }
}
