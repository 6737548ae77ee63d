using System;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;

namespace OptDsl.Optimizers;

public partial class ScheduleFreeSgd
{
    readonly EvaluationSwap _average = new(nameof(ScheduleFreeSgd), "the average", nameof(SwapInAverage));

    /// <summary>Whether <see cref="SwapInAverage"/> has put the average x into the parameters.</summary>
    public bool IsAverageSwappedIn => _average.IsActive;

    /// <summary>
    /// Puts the average <c>x = (y - (1 - momentum) z) / momentum</c> into the parameters — the weights to evaluate and to
    /// ship — until the returned handle is disposed, which puts the training point y back exactly. Steps and
    /// checkpoint loads are refused meanwhile. Parameters not yet stepped have x = y = z and stay as they are.
    /// </summary>
    public IDisposable SwapInAverage()
    {
        var momentum = new System.Collections.Generic.Dictionary<IntPtr, double>();
        foreach (var group in Groups)
            foreach (var p in group.Parameters) momentum[p.Handle] = group.Options.Momentum ?? Defaults.Momentum!.Value;
        return _average.SwapIn(Groups.SelectMany(g => g.Parameters), p =>
        {
            var state = StateOf(p);
            // x = lerp(y, z, 1 - 1/momentum), in the state's precision (float32 for half-precision parameters).
            return state.Step == 0 ? null : OptDsl.Runtime.Backends.Portable.TensorMath.Lerp(p.detach().to(state.Z.dtype), state.Z, 1 - 1 / momentum[p.Handle]);
        });
    }

    /// <inheritdoc/>
    protected override string? Locked => _average.Locked;

    /// <inheritdoc/>
    /// <remarks>An average still swapped in goes back out first: the model keeps its training point.</remarks>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _average.SwapOut();
        base.Dispose(disposing);
    }
}
