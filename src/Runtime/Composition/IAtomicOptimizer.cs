using System;
using System.Collections.Generic;
using System.IO;
using OptDsl.Runtime.Core;
using TorchSharp.Modules;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// An optimizer whose step checks everything before it changes anything, with a hook between the checks and the
/// update, and whose whole state fits in a checkpoint: what composition and routing need from an inner optimizer.
/// Declared optimizers and routed optimizers over them are such.
/// </summary>
internal interface IAtomicOptimizer
{
    /// <summary>
    /// Checks, then <paramref name="beforeUpdate"/>, then the update; a throw before the update changes nothing. Returns
    /// <see cref="StepOutcome.Skipped"/> when the step was skipped (a non-finite gradient under
    /// <see cref="NonFiniteGradients.Skip"/>, or <paramref name="beforeUpdate"/> returning false) and
    /// <see cref="StepOutcome.NothingToUpdate"/> when no parameter had a gradient (then <paramref name="beforeUpdate"/>
    /// was not called): in both cases nothing changed.
    /// </summary>
    StepOutcome RunStep(Func<bool>? beforeUpdate);

    /// <summary>
    /// From inside <see cref="RunStep"/>'s <c>beforeUpdate</c>: multiply every gradient by <paramref name="coefficient"/>
    /// (a 0-d tensor) as this update reads it, leaving the gradient tensors as they are. Returns false, having done
    /// nothing, where the optimizer cannot (a routed optimizer with a part not declared with OptDsl).
    /// </summary>
    bool ScaleGradientsInUpdate(TorchSharp.torch.Tensor coefficient);

    /// <summary>Writes the optimizer's part of a checkpoint.</summary>
    void WriteCheckpoint(BinaryWriter writer);

    /// <summary>Reads and checks the optimizer's part of a checkpoint; returns what puts it in place.</summary>
    Action StageCheckpoint(BinaryReader reader, string path);

    /// <summary>The parameters, in the order checkpoints of stages list them.</summary>
    IEnumerable<Parameter> AllParameters { get; }
}
