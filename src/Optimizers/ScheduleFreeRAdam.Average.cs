using System;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;

namespace OptDsl.Optimizers;

public partial class ScheduleFreeRAdam
{
    readonly EvaluationSwap _average = new(nameof(ScheduleFreeRAdam), "the average", nameof(SwapInAverage));

    /// <summary>Whether <see cref="SwapInAverage"/> has put the average x into the parameters.</summary>
    public bool IsAverageSwappedIn => _average.IsActive;

    /// <summary>
    /// Puts the average <c>x = (y - (1 - beta1) z) / beta1</c> into the parameters — the weights to evaluate and to
    /// ship — until the returned handle is disposed, which puts the training point y back exactly. Steps and
    /// checkpoint loads are refused meanwhile. Parameters not yet stepped have x = y = z and stay as they are.
    /// </summary>
    public IDisposable SwapInAverage() => ScheduleFreeAverage.SwapIn(_average,
        Groups.Select(g => (g.Parameters, g.Options.Beta1 ?? Defaults.Beta1!.Value)), p => (StateOf(p).Z, StateOf(p).Step));

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
