using System;
using System.Collections.Generic;
using System.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// One small piece of a training recipe, run around the inner optimizer's update by a <see cref="ComposedOptimizer"/>:
/// gradient stages (clipping, accumulation) act in <see cref="BeforeUpdate"/>, weight wrappers (Lookahead, EMA, SWA)
/// in <see cref="AfterUpdate"/>. At each update every stage's <see cref="Check"/> runs first, so a stage that cannot
/// go on throws before any stage, gradient or parameter has changed.
/// </summary>
/// <remarks>
/// A stage belongs to one composed optimizer. Write your own by overriding the hooks you need; change gradients and
/// parameters in place (the update reads the tensors that were checked), and keep per-parameter tensors in the
/// order of <see cref="StageContext.Parameters"/> so checkpoints line up.
/// </remarks>
public abstract class OptimizerStage : IDisposable
{
    /// <summary>The stage's name in messages and checkpoints; a checkpoint loads only into the same stages in the same order.</summary>
    public virtual string Name => GetType().Name;

    internal ComposedOptimizer? Owner { get; set; }

    /// <summary>Throws if the stage cannot take this update (an invalid scheduled value, tensors on another device...).</summary>
    protected internal virtual void Check(StageContext context) { }

    /// <summary>Runs after every check and before the inner update: gradients are complete.</summary>
    protected internal virtual void BeforeUpdate(StageContext context) { }

    /// <summary>Runs after the inner update, in stage order.</summary>
    protected internal virtual void AfterUpdate(StageContext context) { }

    /// <summary>Bytes of the tensors the stage keeps between updates (slow weights, averages); 0 by default.</summary>
    public virtual long StateBytes => 0;

    /// <summary>Moves the stage's tensors to <paramref name="device"/>.</summary>
    protected internal virtual void MoveTo(Device device) { }

    /// <summary>Writes the stage's state to a checkpoint.</summary>
    protected internal virtual void WriteState(BinaryWriter writer) { }

    /// <summary>
    /// Reads and checks the state written by <see cref="WriteState"/> without changing the stage; returns what puts it in
    /// place. Throws <see cref="InvalidDataException"/> when it does not fit <paramref name="parameters"/>.
    /// </summary>
    protected internal virtual Action ReadState(BinaryReader reader, IReadOnlyList<Parameter> parameters) => static () => { };

    /// <summary>Frees the stage's tensors.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the stage's tensors when <paramref name="disposing"/>.</summary>
    protected virtual void Dispose(bool disposing) { }
}
