using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// Shampoo (Gupta, Koren and Singer, 2018, "Shampoo: Preconditioned Stochastic Tensor Optimization") with the practical
/// choices of its large-scale versions (Anil et al., 2020, "Scalable Second Order Optimization for Deep Learning"):
/// Kronecker factors as EMAs, <c>L = βₛL + (1 − βₛ)GGᵀ</c> and <c>R = βₛR + (1 − βₛ)GᵀG</c>; inverse fourth roots
/// <c>(L + εI)^(−1/4)</c>, <c>(R + εI)^(−1/4)</c> recomputed (by an eigendecomposition) every
/// <c>preconditionFrequency</c> steps and at the first; the direction <c>S = L^(−1/4) G R^(−1/4)</c> grafted onto
/// RMSprop's step size per parameter (<c>S · ‖A‖/‖S‖</c> with <c>A = g/(√v̂ + ε)</c>, v̂ bias-corrected); momentum
/// on the grafted direction (bias-corrected); decoupled weight decay. Vectors, and sides longer than
/// <c>maxPreconditionDim</c>, are not preconditioned (the graft alone there).
/// </summary>
/// <remarks>
/// State: <c>m</c> (momentum), <c>v</c> (the graft's second moment), <c>l</c>, <c>r</c> and their roots <c>pl</c>,
/// <c>pr</c>. See <see cref="KroneckerOptimizer"/> for what it shares with SOAP.
/// </remarks>
public sealed class Shampoo : KroneckerOptimizer
{
    const int M = 0, V = 1, L = 2, R = 3, PL = 4, PR = 5;
    static readonly string[] Slots = { "m", "v", "l", "r", "pl", "pr" };
    static readonly bool[] Left = { false, false, true, false, true, false };
    static readonly bool[] Right = { false, false, false, true, false, true };

    /// <summary>Creates Shampoo over <paramref name="parameters"/>.</summary>
    public Shampoo(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double shampooBeta = 0.95,
        double eps = 1e-8, double matrixEps = 1e-12, double weightDecay = 0, int preconditionFrequency = 10, int maxPreconditionDim = 10_000)
        : this(new[] { new ParamGroup<KroneckerOptions>(parameters, new KroneckerOptions()) }, new KroneckerOptions
        {
            LearningRate = lr, InitialLearningRate = lr, Beta1 = beta1, Beta2 = beta2, ShampooBeta = shampooBeta, Eps = eps, MatrixEps = matrixEps,
            WeightDecay = weightDecay, PreconditionFrequency = preconditionFrequency, MaxPreconditionDim = maxPreconditionDim,
        })
    {
    }

    /// <summary>Creates Shampoo over parameter groups; what a group leaves unset comes from <paramref name="defaults"/>.</summary>
    public Shampoo(IEnumerable<ParamGroup<KroneckerOptions>> groups, KroneckerOptions defaults) : base("Shampoo", groups, defaults, Slots, Left, Right) { }

    private protected override void Update(Parameter p, KroneckerState s, KroneckerOptions o, Tensor g, bool left, bool right)
    {
        using var kept = KeptScalars.Rent();
        long t = s.Step;
        double beta1 = o.Beta1!.Value, beta2 = o.Beta2!.Value, sb = o.ShampooBeta!.Value, lr = o.LearningRate!.Value;
        if (t == 1)
        {
            Keep(s, M, torch.zeros_like(g));
            Keep(s, V, torch.zeros_like(g));
            if (left) Keep(s, L, torch.zeros(g.shape[0], g.shape[0], g.dtype, g.device));
            if (right) Keep(s, R, torch.zeros(g.shape[1], g.shape[1], g.dtype, g.device));
        }
        if (left) s.Tensors[L]!.mul_(kept[sb]).add_(g.matmul(g.t()), alpha: kept[1 - sb]);
        if (right) s.Tensors[R]!.mul_(kept[sb]).add_(g.t().matmul(g), alpha: kept[1 - sb]);
        if (t == 1 || (t - 1) % o.PreconditionFrequency!.Value == 0)
        {
            if (left) Keep(s, PL, InverseRoot(s.Tensors[L]!, o.MatrixEps!.Value));
            if (right) Keep(s, PR, InverseRoot(s.Tensors[R]!, o.MatrixEps!.Value));
        }

        // The graft: RMSprop's direction, whose norm the Shampoo direction takes.
        var v = s.Tensors[V]!;
        v.mul_(kept[beta2]).addcmul_(g, g, value: kept[1 - beta2]);
        var graft = g.div(v.div(kept[1 - Math.Pow(beta2, t)]).sqrt().add(kept[o.Eps!.Value], ScalarCalls.One));
        var scaled = graft;
        if (left || right)
        {
            var shampoo = g;
            if (s.Tensors[PL] is { } pl) shampoo = pl.matmul(shampoo);
            if (s.Tensors[PR] is { } pr) shampoo = shampoo.matmul(pr);
            // ‖A‖ / ‖S‖ on the device; a zero Shampoo direction (a zero gradient) takes the graft's.
            var shampooNorm = shampoo.norm();
            scaled = torch.where(shampooNorm.gt(kept[0]), shampoo.mul(graft.norm().div(shampooNorm)), graft);
        }

        var m = s.Tensors[M]!;
        m.mul_(kept[beta1]).add_(scaled, alpha: kept[1 - beta1]);
        if (o.WeightDecay!.Value > 0) p.mul_(kept[1 - lr * o.WeightDecay.Value]);
        p.add_(m.reshape(p.shape).to(p.dtype), alpha: kept[-lr / (1 - Math.Pow(beta1, t))]);
    }

    /// <summary>(A + εI)^(−1/4) of a symmetric positive semi-definite matrix, by its eigendecomposition.</summary>
    static Tensor InverseRoot(Tensor symmetric, double eps)
    {
        using var kept = KeptScalars.Rent();
        var (values, vectors) = Eigen(symmetric);
        // Eigenvalues of a PSD matrix may come out slightly negative; clamp at 0 before adding ε.
        var scale = values.clamp_min(kept[0]).add(kept[eps], ScalarCalls.One).pow(kept[-0.25]);
        return vectors.mul(scale.unsqueeze(0)).matmul(vectors.t());
    }
}
