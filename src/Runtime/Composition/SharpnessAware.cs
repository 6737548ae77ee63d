using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Sharpness-aware minimisation around any optimizer: SAM (Foret et al., 2021) and, with <c>adaptive</c>, ASAM (Kwon et
/// al., 2021). Each step takes the gradient g at the weights w, moves to the nearby worst case
/// <c>w + e</c> with <c>e = ρ T² g / ‖T g‖</c> (T = 1 for SAM, <c>|w| + η</c> for ASAM, the norm over every
/// parameter), takes the gradient there, puts the weights back exactly, and lets the inner optimizer step with that
/// gradient. Two forward and backward passes per step, so <c>step</c> needs a closure that computes the loss and calls
/// <c>backward()</c>. It keeps one copy of the weights during a step (for the exact way back).
/// </summary>
public sealed class SharpnessAware : ClosureOptimizer
{
    /// <param name="inner">The base optimizer (any declared optimizer, or a TorchSharp one).</param>
    /// <param name="rho">The neighbourhood's radius ρ (SAM: 0.05; ASAM: larger, e.g. 0.5 or 2).</param>
    /// <param name="adaptive">ASAM's scale-invariant neighbourhood, <c>T = |w| + η</c>.</param>
    /// <param name="eta">ASAM's η, which keeps weights at zero from being frozen.</param>
    public SharpnessAware(optim.Optimizer inner, double rho = 0.05, bool adaptive = false, double eta = 0.01) : base(inner)
    {
        if (!(rho >= 0) || double.IsInfinity(rho)) throw new ArgumentOutOfRangeException(nameof(rho), rho, "ρ must be finite and not negative.");
        if (!(eta >= 0) || double.IsInfinity(eta)) throw new ArgumentOutOfRangeException(nameof(eta), eta, "η must be finite and not negative.");
        (Rho, Adaptive, Eta) = (rho, adaptive, eta);
    }

    /// <summary>ρ.</summary>
    public double Rho { get; }

    /// <summary>Whether the neighbourhood is ASAM's.</summary>
    public bool Adaptive { get; }

    /// <summary>ASAM's η.</summary>
    public double Eta { get; }

    /// <summary>‖T g‖ at the last step (a device tensor), null before the first.</summary>
    public Tensor? LastGradientNorm { get; private set; }

    /// <summary>
    /// One step; <paramref name="closure"/> computes the loss and calls <c>backward()</c> (it is called twice). Returns the
    /// loss at the weights before the step. A gradient norm that is not finite throws with the weights as they were.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        using var kept = KeptScalars.Rent();
        Inner.zero_grad();
        var (loss, ps) = Evaluate(closure, "Sharpness-aware steps take the gradient twice");
        var saved = new List<Tensor>(ps.Length);
        try
        {
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var scaled = ps.Select(p => Adaptive ? p.grad!.mul(p.abs().add(kept[Eta], ScalarCalls.One)) : p.grad!).ToArray();
                var norm = GradientNorms.Total(scaled.ToList(), 2);
                double value = norm.to(ScalarType.Float64).item<double>();
                if (!double.IsFinite(value))
                    throw new InvalidOperationException($"Sharpness-aware step: the gradient's norm is {value}; nothing was changed.");
                LastGradientNorm?.Dispose();
                LastGradientNorm = norm.MoveToOuterDisposeScope();
                double factor = Rho / (value + 1e-12);
                for (int k = 0; k < ps.Length; k++)
                {
                    saved.Add(ps[k].detach().clone().MoveToOuterDisposeScope());
                    // e = ρ T² g / ‖T g‖: for ASAM the scaled gradient T g once more times T.
                    var e = Adaptive ? scaled[k].mul(ps[k].abs().add(kept[Eta], ScalarCalls.One)) : scaled[k];
                    ps[k].add_(e, alpha: kept[factor]);
                }
            }
            Inner.zero_grad();
            using (enable_grad()) closure!().Dispose();
        }
        finally
        {
            PutBack(ps, saved);
        }
        Inner.step();
        return loss;
    }
}
