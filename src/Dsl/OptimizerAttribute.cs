using System;

namespace OptDsl;

/// <summary>
/// Marks a <c>partial class</c> as an optimizer declaration. The OptDsl generator completes the class into a
/// TorchSharp optimizer (it derives from <c>OptimizerHelper</c>, so it drops into existing TorchSharp code).
/// </summary>
/// <remarks>
/// A declaration holds <see cref="HyperAttribute">hyperparameters</see>, per-element
/// <see cref="StateAttribute">state</see>, optional <see cref="ScalarStateAttribute">per-tensor scalar state</see>
/// and one <see cref="UpdateAttribute">update method</see> of scalar math for one parameter element.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OptimizerAttribute : Attribute
{
}
