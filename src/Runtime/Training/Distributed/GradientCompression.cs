using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// A way to average gradients over ranks that sends less than an all-reduce of them, with error feedback: what a rank's
/// message leaves out of its gradient is kept and added to its next gradient, so nothing is lost, only delayed. The
/// state (errors, warm starts) is per rank and goes into <see cref="DataParallel"/>'s checkpoints.
/// </summary>
public abstract class GradientCompression : IDisposable
{
    /// <summary>Replaces every gradient in <paramref name="gradients"/> by the compressed average over ranks.</summary>
    public abstract void AverageInPlace(IReadOnlyList<Tensor> gradients, ICollectives collectives);

    /// <summary>The error-feedback state, one tensor per gradient (null before the first step); what checkpoints save.</summary>
    internal abstract Tensor?[] State { get; }

    /// <summary>Puts checked state in place (the shapes were compared with the gradients').</summary>
    internal abstract void Restore(Tensor?[] state);

    /// <summary>A name with the settings, which a checkpoint must match.</summary>
    internal abstract string Fingerprint { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in State) t?.Dispose();
    }

    /// <summary>The error of gradient <paramref name="index"/>, made zero the first time.</summary>
    protected static Tensor ErrorOf(Tensor?[] errors, int index, Tensor like) =>
        errors[index] ??= torch.zeros_like(like).DetachFromDisposeScope();
}
