using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredOptimizer<TOptions, TState>
{
    /// <summary>Whether the declaration has a <c>[Refresh]</c> rule.</summary>
    protected virtual bool HasRefresh => false;

    /// <summary>The declared refresh rule for one parameter tensor; runs under <c>no_grad</c> inside a dispose scope.</summary>
    protected virtual void Refresh(TOptions options, Tensor estimate, TState state) =>
        throw new NotSupportedException($"{Spec.Name} declares no [Refresh] rule.");

    /// <inheritdoc/>
    public override bool CanRefresh => HasRefresh;

    /// <inheritdoc/>
    public override void Refresh(IReadOnlyList<Tensor>? estimates = null)
    {
        ThrowIfLocked();
        if (!HasRefresh) throw new NotSupportedException($"{Spec.Name} declares no [Refresh] rule, so it takes no estimates.");
        var parameters = AllParameters.ToList();
        if (estimates is not null && estimates.Count != parameters.Count)
            throw new ArgumentException(
                $"{Spec.Name}: {estimates.Count} estimates for {parameters.Count} parameters; give one per parameter, in the order of the groups.", nameof(estimates));

        // Everything is checked before any state changes.
        var work = new List<(TOptions Options, Parameter P, Tensor E, TState State)>();
        int index = 0;
        for (int i = 0; i < _parameter_groups.Count; i++)
        {
            var options = (TOptions)_parameter_groups[i].Options;
            options.Validate($"parameter group {i}");
            foreach (var p in _parameter_groups[i].Parameters)
            {
                var e = estimates is null ? p.grad : estimates[index];
                index++;
                if (e is null)
                {
                    if (estimates is null) continue; // no gradient: skipped, as a step skips it
                    throw new ArgumentException($"{Spec.Name}: estimate {index - 1} is null.", nameof(estimates));
                }
                var what = estimates is null ? "a gradient" : $"estimate {index - 1}";
                if (!e.shape.AsSpan().SequenceEqual(p.shape))
                    throw new ArgumentException($"{Spec.Name}: {what} has shape [{string.Join(", ", e.shape)}] but its parameter has [{string.Join(", ", p.shape)}].");
                if (!e.is_floating_point())
                    throw new ArgumentException($"{Spec.Name}: {what} is {e.dtype}; estimates are floating point.");
                if (!e.SameDevice(p))
                    throw new ArgumentException($"{Spec.Name}: {what} is on {e.device} but its parameter is on {p.device}.");
                work.Add((options, p, e, (TState)_state[p.Handle]));
            }
        }
        if (work.Count == 0) return;
        if (!Backends.Portable.Finite.All(work.Select(w => w.E)))
            throw new ArgumentException($"{Spec.Name}: an estimate holds NaN or infinity; no state was changed.", nameof(estimates));

        using var noGrad = torch.no_grad();
        foreach (var (options, p, e, state) in work)
        {
            using var scope = torch.NewDisposeScope();
            state.Unpack();
            state.AllocateMissing(options);
            var inStateType = e.detach().to(DeclaredState.StateType(p.dtype));
            Refresh(options, inStateType, state);
            state.Pack();
        }
        RefreshCount++;
    }
}
