using System;
using System.Collections.Generic;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Runs a declared optimizer's <c>[Refresh]</c> rule every k updates with estimates computed then — Sophia's Hessian
/// estimate every k steps — so the training loop calls <c>step</c> as for any optimizer:
/// <code>
/// var sophia = new RefreshEvery(new Sophia(model.parameters(), lr: 2e-4), every: 10,
///     step => Curvature.GaussNewtonBartlett(parameters, model.forward(x), seed: 1, draw: (ulong)step));
/// </code>
/// The estimate is taken after update k, 2k, ... (counted by the inner optimizer's <c>StepCount</c>, which checkpoints
/// keep, so a resumed run refreshes at the same steps); a skipped update does not count. Only refresh steps pay for
/// the estimator's passes.
/// </summary>
public sealed class RefreshEvery : ClosureOptimizer
{
    readonly DeclaredOptimizer _inner;
    readonly Func<long, IReadOnlyList<Tensor>> _estimate;

    /// <param name="inner">A declared optimizer with a refresh rule.</param>
    /// <param name="every">k: refresh after every k-th update.</param>
    /// <param name="estimate">Computes the estimates (one per parameter, in group order) after update <c>step</c>.</param>
    public RefreshEvery(DeclaredOptimizer inner, int every, Func<long, IReadOnlyList<Tensor>> estimate) : base(inner)
    {
        if (!inner.CanRefresh) throw new ArgumentException($"{inner.Spec.Name} declares no [Refresh] rule.", nameof(inner));
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "Refresh every k >= 1 updates.");
        _inner = inner;
        Every = every;
        _estimate = estimate ?? throw new ArgumentNullException(nameof(estimate));
    }

    /// <summary>k.</summary>
    public int Every { get; }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        long before = _inner.StepCount;
        var loss = _inner.step(closure);
        long after = _inner.StepCount;
        if (after != before && after % Every == 0)
        {
            using var scope = torch.NewDisposeScope();
            _inner.Refresh(_estimate(after));
        }
        return loss;
    }
}
