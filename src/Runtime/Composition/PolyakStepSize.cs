using System;
using System.Linq;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// The stochastic Polyak step size (Loizou et al., 2021, "Stochastic Polyak Step-size for SGD", SPS_max): each step sets
/// the inner optimizer's learning rate to <c>min(maxLr, (f(x) − f*) / (c ‖∇f(x)‖²))</c>, the norm over every parameter,
/// from the loss and gradient the closure computes, then steps. <c>f*</c> is the optimal loss (0 for models that can
/// interpolate the data). The rule is SGD's (<c>inner</c> plain SGD); around another optimizer it only scales its rate.
/// </summary>
public sealed class PolyakStepSize : ClosureOptimizer
{
    /// <param name="inner">The optimizer whose learning rate is set each step (SGD for the method as published).</param>
    /// <param name="optimalLoss">f*, a lower bound of the loss (0 where the model can fit the data exactly).</param>
    /// <param name="c">The step's denominator factor (0.5 in the paper's experiments).</param>
    /// <param name="maxLr">The largest learning rate a step may take (γ_b).</param>
    public PolyakStepSize(optim.Optimizer inner, double optimalLoss = 0, double c = 0.5, double maxLr = 1) : base(inner)
    {
        if (!double.IsFinite(optimalLoss)) throw new ArgumentOutOfRangeException(nameof(optimalLoss), optimalLoss, "f* must be finite.");
        if (!(c > 0) || double.IsInfinity(c)) throw new ArgumentOutOfRangeException(nameof(c), c, "c must be positive and finite.");
        if (!(maxLr > 0) || double.IsInfinity(maxLr)) throw new ArgumentOutOfRangeException(nameof(maxLr), maxLr, "The largest learning rate must be positive and finite.");
        (OptimalLoss, C, MaxLearningRate) = (optimalLoss, c, maxLr);
    }

    /// <summary>f*.</summary>
    public double OptimalLoss { get; }

    /// <summary>c.</summary>
    public double C { get; }

    /// <summary>γ_b.</summary>
    public double MaxLearningRate { get; }

    /// <summary>The learning rate of the last step (NaN before the first).</summary>
    public double LastLearningRate { get; private set; } = double.NaN;

    /// <summary>
    /// One step; <paramref name="closure"/> computes the loss and calls <c>backward()</c>. A loss or gradient norm that
    /// is not finite throws before anything changes.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        var (loss, ps) = Evaluate(closure, "The Polyak step size is computed from the loss");
        double value = loss.to(ScalarType.Float64).item<double>(), squared;
        using (no_grad())
        using (NewDisposeScope())
        {
            double norm = GradientNorms.Total(ps.Select(p => p.grad!).ToList(), 2).to(ScalarType.Float64).item<double>();
            squared = norm * norm;
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
