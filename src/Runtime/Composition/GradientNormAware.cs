using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// GAM, gradient norm aware minimisation (Zhang et al., 2023, "Gradient Norm Aware Minimization Seeks First-Order
/// Flatness and Improves Generalization"), around any optimizer, in the authors' four-pass form. At the weights w:
/// g₀ = ∇L(w); g₁ = ∇L(w + ρ g₀/‖g₀‖) (SAM's gradient); the gradient norm's ascent direction from the finite
/// difference d = g₁ − g₀ (∝ H g₀), w₂ = w + ρ' d/‖d‖, g₂ = ∇L(w₂); g₃ = ∇L(w₂ + ρ g₂/‖g₂‖). The update direction is
/// <c>n = β₁g₁ + β₃g₃</c> with the part of <c>m = g₀ + β₂g₂</c> orthogonal to it removed at rate γ:
/// <c>n − γ(m − cos(m, n)‖m‖ n/‖n‖)</c>. The weights are put back exactly (a copy is kept during the step) and the
/// inner optimizer steps with that direction as its gradient. Norms are over every parameter.
/// </summary>
public sealed class GradientNormAware : ClosureOptimizer
{
    const double Tiny = 1e-12;

    /// <param name="inner">The base optimizer.</param>
    /// <param name="rho">ρ, the zeroth-order (SAM) radius.</param>
    /// <param name="normRho">ρ', the radius of the ascent on the gradient norm.</param>
    /// <param name="beta1">β₁, the weight of SAM's gradient g₁.</param>
    /// <param name="beta2">β₂, the weight of g₂ in the direction whose orthogonal part is removed.</param>
    /// <param name="beta3">β₃, the weight of the first-order flatness gradient g₃.</param>
    /// <param name="gamma">γ, how much of the orthogonal part is removed.</param>
    public GradientNormAware(optim.Optimizer inner, double rho = 0.1, double normRho = 0.02, double beta1 = 1, double beta2 = 1,
        double beta3 = 1, double gamma = 0.3) : base(inner)
    {
        foreach (var (value, name) in new[] { (rho, nameof(rho)), (normRho, nameof(normRho)), (beta1, nameof(beta1)), (beta2, nameof(beta2)), (beta3, nameof(beta3)), (gamma, nameof(gamma)) })
            if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"GAM: {name} must be finite and not negative.");
        (Rho, NormRho, Beta1, Beta2, Beta3, Gamma) = (rho, normRho, beta1, beta2, beta3, gamma);
    }

    /// <summary>ρ.</summary>
    public double Rho { get; }
    /// <summary>ρ'.</summary>
    public double NormRho { get; }
    /// <summary>β₁.</summary>
    public double Beta1 { get; }
    /// <summary>β₂.</summary>
    public double Beta2 { get; }
    /// <summary>β₃.</summary>
    public double Beta3 { get; }
    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <summary>
    /// One step: four gradients (<paramref name="closure"/> computes the loss and calls <c>backward()</c>; it is called
    /// four times), then the inner optimizer's step. Returns the loss at the weights before the step. A gradient whose
    /// norm is not finite throws with the weights as they were.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        using var kept = KeptScalars.Rent();
        Inner.zero_grad();
        var (loss, ps) = Evaluate(closure, "GAM takes four gradients per step");
        using var scope = NewDisposeScope();
        var saved = new List<Tensor>(ps.Length);
        var g = new Tensor[4][];
        try
        {
            using (no_grad())
                foreach (var p in ps) saved.Add(p.detach().clone());
            g[0] = Gradients(ps);
            Move(ps, saved, g[0], Rho);
            g[1] = Pass(ps, closure!);

            Tensor[] difference;
            using (no_grad()) difference = g[1].Zip(g[0], (a, b) => a.sub(b)).ToArray();
            Move(ps, saved, difference, NormRho);
            Tensor[] at2;
            using (no_grad()) at2 = ps.Select(p => p.detach().clone()).ToArray();
            g[2] = Pass(ps, closure!);
            Move(ps, at2, g[2], Rho);
            g[3] = Pass(ps, closure!);

            using (no_grad())
            {
                var m = g[0].Zip(g[2], (a, b) => a.add(b, alpha: kept[Beta2])).ToArray();
                var n = g[1].Zip(g[3], (a, b) => a.mul(kept[Beta1]).add(b, alpha: kept[Beta3])).ToArray();
                double nNorm = Norm(n), mNorm = Norm(m);
                // One host read for the inner product over every tensor, not one per tensor.
                double inner = torch.stack(m.Zip(n, (a, b) => a.mul(b).sum().to(ScalarType.Float64)).ToArray()).sum().item<double>();
                double cosine = inner / (nNorm * mNorm + Tiny);
                for (int k = 0; k < ps.Length; k++)
                {
                    var vertical = m[k].sub(n[k].mul(kept[cosine * mNorm / (nNorm + Tiny)]));
                    ps[k].grad = n[k].sub(vertical.mul(kept[Gamma])).DetachFromDisposeScope();
                }
            }
        }
        finally
        {
            PutBack(ps, saved);
        }
        Inner.step();
        return loss;
    }

    static Tensor[] Gradients(Parameter[] ps) => ps.Select(p => p.grad is { } g ? g.detach().clone() : torch.zeros_like(p)).ToArray();

    Tensor[] Pass(Parameter[] ps, Func<Tensor> closure)
    {
        Inner.zero_grad();
        using (enable_grad()) closure().Dispose();
        return Gradients(ps);
    }

    static double Norm(Tensor[] tensors) => GradientNorms.Total(tensors.ToList(), 2).to(ScalarType.Float64).item<double>();

    /// <summary>Sets the weights to <paramref name="from"/> + <paramref name="radius"/> · d/‖d‖; a norm that is not finite throws.</summary>
    static void Move(Parameter[] ps, IReadOnlyList<Tensor> from, Tensor[] direction, double radius)
    {
        using var kept = KeptScalars.Rent();
        using var _ = no_grad();
        double norm = Norm(direction);
        if (!double.IsFinite(norm)) throw new InvalidOperationException($"GAM: a gradient's norm is {norm}; the weights were put back as they were.");
        double scale = radius / (norm + Tiny);
        for (int k = 0; k < ps.Length; k++) ps[k].copy_(from[k].add(direction[k], alpha: kept[scale]));
    }
}
