using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;

namespace OptDsl.Optimizers;

public partial class MomentumSam
{
    readonly EvaluationSwap _unperturbed = new(nameof(MomentumSam), "the unperturbed point", nameof(SwapInUnperturbed));

    /// <summary>Whether <see cref="SwapInUnperturbed"/> has put the unperturbed weights into the parameters.</summary>
    public bool IsUnperturbedSwappedIn => _unperturbed.IsActive;

    /// <summary>
    /// Puts the unperturbed weights <c>w = w̃ + ρ v/‖v‖</c> into the parameters — the weights to evaluate and ship —
    /// until the returned handle is disposed, which puts the perturbed training point back exactly. Steps and checkpoint
    /// loads are refused meanwhile.
    /// </summary>
    public IDisposable SwapInUnperturbed()
    {
        var rhoOf = new System.Collections.Generic.Dictionary<IntPtr, double>();
        foreach (var group in Groups)
            foreach (var p in group.Parameters) rhoOf[p.Handle] = group.Options.Rho ?? Defaults.Rho!.Value;
        return _unperturbed.SwapIn(Groups.SelectMany(g => g.Parameters), p =>
        {
            using var kept = KeptScalars.Rent();
            var state = StateOf(p);
            return state.Step == 0 ? null : p.detach().add(state.V.to(p.dtype), alpha: kept[rhoOf[p.Handle] * state.InverseNorm]);
        });
    }

    /// <inheritdoc/>
    protected override string? Locked => _unperturbed.Locked;

    /// <inheritdoc/>
    /// <remarks>Weights still swapped in go back out first: the model keeps its training point.</remarks>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _unperturbed.SwapOut();
        base.Dispose(disposing);
    }
}
