using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// The stochastic Polyak step size (Loizou et al., 2021, "Stochastic Polyak Step-size for SGD", SPS_max): each step sets
/// the inner optimizer's learning rate to <c>min(maxLr, (f(x) − f*) / (c ‖∇f(x)‖²))</c>, the norm over every parameter,
/// from the loss and gradient the closure computes, then steps. <c>f*</c> is the optimal loss (0 for models that can
/// interpolate the data). The rule is SGD's (<c>inner</c> plain SGD); around another optimizer it only scales its rate.
/// </summary>
public sealed class PolyakStepSize : optim.Optimizer
{
    static PolyakStepSize() => TorchSharpNative.EnsureLoadable();

    /// <param name="inner">The optimizer whose learning rate is set each step (SGD for the method as published).</param>
    /// <param name="optimalLoss">f*, a lower bound of the loss (0 where the model can fit the data exactly).</param>
    /// <param name="c">The step's denominator factor (0.5 in the paper's experiments).</param>
    /// <param name="maxLr">The largest learning rate a step may take (γ_b).</param>
    public PolyakStepSize(optim.Optimizer inner, double optimalLoss = 0, double c = 0.5, double maxLr = 1) : base(IntPtr.Zero)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
        if (!double.IsFinite(optimalLoss)) throw new ArgumentOutOfRangeException(nameof(optimalLoss), optimalLoss, "f* must be finite.");
        if (!(c > 0) || double.IsInfinity(c)) throw new ArgumentOutOfRangeException(nameof(c), c, "c must be positive and finite.");
        if (!(maxLr > 0) || double.IsInfinity(maxLr)) throw new ArgumentOutOfRangeException(nameof(maxLr), maxLr, "The largest learning rate must be positive and finite.");
        (OptimalLoss, C, MaxLearningRate) = (optimalLoss, c, maxLr);
    }

    /// <summary>The optimizer whose learning rate is set.</summary>
    public optim.Optimizer Inner { get; }

    /// <summary>f*.</summary>
    public double OptimalLoss { get; }

    /// <summary>c.</summary>
    public double C { get; }

    /// <summary>γ_b.</summary>
    public double MaxLearningRate { get; }

    /// <summary>The learning rate of the last step (NaN before the first).</summary>
    public double LastLearningRate { get; private set; } = double.NaN;

    /// <inheritdoc/>
    public override IEnumerable<optim.ILearningRateController> ParamGroups => Inner.ParamGroups;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => Inner.parameters();

    /// <inheritdoc/>
    public override void add_param_group(ParamGroup param_group) => Inner.add_param_group(param_group);

    /// <inheritdoc/>
    public override void zero_grad() => Inner.zero_grad();

    /// <summary>
    /// One step; <paramref name="closure"/> computes the loss and calls <c>backward()</c>. A loss or gradient norm that
    /// is not finite throws before anything changes.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (closure is null)
            throw new ArgumentException("The Polyak step size is computed from the loss: give step a closure that computes it and calls backward().", nameof(closure));
        Tensor loss;
        using (enable_grad()) loss = closure();
        double value = loss.to(ScalarType.Float64).item<double>(), squared;
        using (no_grad())
        using (NewDisposeScope())
        {
            var grads = parameters().Where(p => p.grad is not null).Select(p => p.grad!).ToList();
            if (grads.Count == 0) throw new InvalidOperationException("The closure left no gradient: did it call backward()?");
            var device = grads[0].device;
            squared = stack(grads.Select(g => DeclaredState.InStateType(g).to(ScalarType.Float64).square().sum().to(device)).ToArray()).sum().item<double>();
        }
        if (!double.IsFinite(value) || !double.IsFinite(squared))
            throw new InvalidOperationException($"Polyak step: the loss is {value} and the squared gradient norm {squared}; nothing was changed.");
        double rate = Math.Min(MaxLearningRate, Math.Max(0, value - OptimalLoss) / (C * squared + 1e-30));
        foreach (var group in Inner.ParamGroups) group.LearningRate = rate;
        LastLearningRate = rate;
        Inner.step();
        return loss;
    }
}
