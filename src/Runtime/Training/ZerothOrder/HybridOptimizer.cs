using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.ZerothOrder;

/// <summary>
/// First-order steps on a chosen part of the model and zeroth-order steps on the rest, as in ElasticZO (backpropagation
/// for the last layers, forward passes for the others): each step estimates the zeroth-order gradient (two forward
/// passes per perturbation), takes the loss's gradient with respect to the first-order parameters only at the same
/// weights — autograd does not reach into the zeroth-order ones, so their activations need not be kept — and then
/// updates both parts.
/// </summary>
public sealed class HybridOptimizer
{
    readonly ZerothOrderOptimizer _zeroth;
    readonly optim.Optimizer _firstOrder;
    readonly Parameter[] _firstOrderParameters;

    /// <param name="zerothOrder">The zeroth-order part, over its parameters.</param>
    /// <param name="firstOrder">Any optimizer over the other parameters (none shared with <paramref name="zerothOrder"/>).</param>
    public HybridOptimizer(ZerothOrderOptimizer zerothOrder, optim.Optimizer firstOrder)
    {
        _zeroth = zerothOrder ?? throw new ArgumentNullException(nameof(zerothOrder));
        _firstOrder = firstOrder ?? throw new ArgumentNullException(nameof(firstOrder));
        _firstOrderParameters = firstOrder.parameters().ToArray();
        if (_firstOrderParameters.Intersect(zerothOrder.Parameters).Any())
            throw new ArgumentException("A parameter is in both the zeroth-order and the first-order part.", nameof(firstOrder));
    }

    /// <summary>
    /// One step with <paramref name="loss"/> (the forward pass; called under <c>no_grad</c> for the zeroth-order
    /// evaluations, then once with gradients for the first-order part). Returns that last loss.
    /// </summary>
    public double Step(Func<Tensor> loss)
    {
        var (record, _) = _zeroth.Estimate(loss);
        var frozen = _zeroth.Parameters.Where(p => p.requires_grad).ToList();
        double value;
        try
        {
            foreach (var p in frozen) p.requires_grad = false;
            _firstOrder.zero_grad();
            using (enable_grad())
            {
                using var l = loss();
                l.backward();
                value = l.to(ScalarType.Float64).item<double>();
            }
        }
        finally
        {
            foreach (var p in frozen) p.requires_grad = true;
        }
        if (!double.IsFinite(value))
        {
            _firstOrder.zero_grad();
            throw new InvalidOperationException($"Hybrid step: the loss is {value}; nothing was changed.");
        }
        _zeroth.Commit(record);
        _firstOrder.step();
        return value;
    }

    /// <summary>The zeroth-order part's log (the first-order part is checkpointed as that optimizer is).</summary>
    public IReadOnlyList<ZerothOrderStep> Log => _zeroth.Log;
}
