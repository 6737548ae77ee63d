using System;
using System.Collections.Generic;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

/// <summary>
/// Puts other weights into parameters for evaluation or export (schedule-free's average, Momentum-SAM's unperturbed
/// point) and puts the training weights back exactly when disposed. The optimizer that owns it refuses steps and
/// checkpoint loads while it is active (<see cref="IsActive"/>, <see cref="Locked"/>).
/// </summary>
public sealed class EvaluationSwap
{
    readonly string _owner, _what, _method;
    List<(Parameter P, Tensor Kept)>? _swapped;

    /// <param name="owner">The optimizer's name, for messages.</param>
    /// <param name="what">What is swapped in, for messages ("the average").</param>
    /// <param name="method">The method that swaps it in, for messages.</param>
    public EvaluationSwap(string owner, string what, string method) => (_owner, _what, _method) = (owner, what, method);

    /// <summary>Whether evaluation weights are in the parameters now.</summary>
    public bool IsActive => _swapped is not null;

    /// <summary>Why steps are refused now, or null.</summary>
    public string? Locked => _swapped is null ? null : $"{_what} is swapped in for evaluation; dispose the handle {_method} returned first.";

    /// <summary>
    /// Writes <paramref name="value"/>(p) into each parameter it gives a tensor for (null: left as it is), keeping the
    /// training weights; the handle puts them back.
    /// </summary>
    public IDisposable SwapIn(IEnumerable<Parameter> parameters, Func<Parameter, Tensor?> value)
    {
        if (_swapped is not null) throw new InvalidOperationException($"{_owner}: {_what} is already swapped in.");
        var swapped = new List<(Parameter, Tensor)>();
        using (torch.no_grad())
            foreach (var p in parameters)
            {
                using var scope = torch.NewDisposeScope();
                if (value(p) is not { } x) continue;
                var kept = p.detach().clone().DetachFromDisposeScope();
                p.copy_(x);
                swapped.Add((p, kept));
            }
        _swapped = swapped;
        return new Handle(this);
    }

    /// <summary>Puts the training weights back (nothing when none are swapped in).</summary>
    public void SwapOut()
    {
        if (_swapped is not { } swapped) return;
        using (torch.no_grad())
            foreach (var (p, kept) in swapped)
            {
                p.copy_(kept);
                kept.Dispose();
            }
        _swapped = null;
    }

    sealed class Handle(EvaluationSwap owner) : IDisposable
    {
        bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            owner.SwapOut();
        }
    }
}
