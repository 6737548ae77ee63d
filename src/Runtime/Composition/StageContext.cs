using System;
using System.Collections.Generic;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>What a stage sees at one update of a <see cref="ComposedOptimizer"/>.</summary>
/// <param name="Parameters">Every parameter of the inner optimizer, in group order (some may have no gradient).</param>
/// <param name="Step">Updates completed before this one: 0 at the first update, the clock schedules use.</param>
public readonly record struct StageContext(IReadOnlyList<Parameter> Parameters, long Step)
{
    /// <summary>
    /// For the last stage that acts on gradients, where the inner optimizer can: has the update multiply every gradient
    /// by a 0-d factor as it reads it, instead of the stage writing the gradients (false: it could not, scale them
    /// yourself). Null otherwise.
    /// </summary>
    internal Func<Tensor, bool>? ScaleInUpdate { get; init; }
}
