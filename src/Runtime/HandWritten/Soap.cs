using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// SOAP (Vyas et al., 2024, "SOAP: Improving and Stabilizing Shampoo using Adam", Algorithm 3): Adam run in the eigenbasis
/// of Shampoo's preconditioner. For a parameter seen as an m×n matrix with gradient G it keeps
/// <c>L = βₛL + (1 − βₛ)GGᵀ</c>, <c>R = βₛR + (1 − βₛ)GᵀG</c> and their eigenbases Q_L, Q_R; each step it takes
/// <c>M = β₁M + (1 − β₁)G</c> (in the original space), <c>V = β₂V + (1 − β₂)(Q_LᵀGQ_R)²</c> (in the eigenbasis) and
/// <c>W −= η_t Q_L((Q_LᵀMQ_R) / (√V + ε))Q_Rᵀ</c> with Adam's bias correction in η_t, then decoupled weight decay.
/// Every <c>preconditionFrequency</c> updates the eigenbases are refreshed by one power iteration and a QR
/// decomposition (with V's entries following its sorted eigenvalues); the first step computes L, R and exact
/// eigenbases (eigh) and does not update, so the current gradient is never in its own projection — the authors'
/// order throughout. Sides longer than <c>maxPreconditionDim</c>, and vectors, are not rotated (Adam there).
/// </summary>
/// <remarks>
/// Not a declaration: its state is matrix-shaped (m×m and n×n per parameter), which the DSL does not express (see
/// <see cref="KroneckerOptimizer"/>). A TorchSharp optimizer: parameter groups, LR schedulers and <c>state_dict</c>
/// work as for the built-ins. State: <c>m</c>, <c>v</c> (m×n), <c>l</c>, <c>r</c> and their bases <c>ql</c>, <c>qr</c>. Its refresh steps cost a QR of each factor; the step between them is four matrix products per parameter.
/// Adam is not rotation-invariant, so where L or R is degenerate — a rectangular matrix's first gradient leaves
/// |m − n| zero eigenvalues — the basis the eigensolver picks there shapes the later steps in those directions; it
/// differs between float32 and float64 and between CPU and CUDA solvers, so such runs agree to rounding only where the
/// factors' eigenvalues are distinct (measured: 4e-2 apart after 12 steps on 7×13 and 4×15 matrices, float32 against
/// float64 on the CPU).
/// </remarks>
public sealed class Soap : KroneckerOptimizer
{
    const int M = 0, V = 1, L = 2, R = 3, QL = 4, QR = 5;
    static readonly string[] Slots = { "m", "v", "l", "r", "ql", "qr" };
    static readonly bool[] Left = { false, false, true, false, true, false };
    static readonly bool[] Right = { false, false, false, true, false, true };

    /// <summary>Creates SOAP over <paramref name="parameters"/> with the authors' defaults.</summary>
    public Soap(IEnumerable<Parameter> parameters, double lr = 3e-3, double beta1 = 0.95, double beta2 = 0.95, double shampooBeta = 0.95,
        double eps = 1e-8, double weightDecay = 0.01, int preconditionFrequency = 10, int maxPreconditionDim = 10_000)
        : this(new[] { new ParamGroup<KroneckerOptions>(parameters, new KroneckerOptions()) }, new KroneckerOptions
        {
            LearningRate = lr, InitialLearningRate = lr, Beta1 = beta1, Beta2 = beta2, ShampooBeta = shampooBeta, Eps = eps, MatrixEps = 1e-30,
            WeightDecay = weightDecay, PreconditionFrequency = preconditionFrequency, MaxPreconditionDim = maxPreconditionDim,
        })
    {
    }

    /// <summary>Creates SOAP over parameter groups; what a group leaves unset comes from <paramref name="defaults"/>.</summary>
    public Soap(IEnumerable<ParamGroup<KroneckerOptions>> groups, KroneckerOptions defaults) : base("SOAP", groups, defaults, Slots, Left, Right) { }

    static Tensor? Rotate(Tensor? q, Tensor x, bool left, bool back)
    {
        if (q is null) return null;
        // Into the eigenbasis: Q_Lᵀ X (left) and X Q_R (right); back: Q_L X and X Q_Rᵀ.
        return left ? (back ? q : q.t()).matmul(x) : x.matmul(back ? q.t() : q);
    }

    static Tensor Project(KroneckerState s, Tensor x, bool back)
    {
        var y = Rotate(s.Tensors[QL], x, left: true, back) ?? x;
        return Rotate(s.Tensors[QR], y, left: false, back) ?? y;
    }

    private protected override void Update(Parameter p, KroneckerState s, KroneckerOptions o, Tensor g, bool left, bool right)
    {
        using var kept = KeptScalars.Rent();
        if (s.Step == 1)
        {
            // The first step only measures: L, R from this gradient and their exact eigenbases, descending.
            Keep(s, M, torch.zeros_like(g));
            Keep(s, V, torch.zeros_like(g));
            if (left) { Keep(s, L, g.matmul(g.t())); Keep(s, QL, Eigen(s.Tensors[L]!).Vectors); }
            if (right) { Keep(s, R, g.t().matmul(g)); Keep(s, QR, Eigen(s.Tensors[R]!).Vectors); }
            return;
        }
        long k = s.Step - 1;
        double beta1 = o.Beta1!.Value, beta2 = o.Beta2!.Value, lr = o.LearningRate!.Value;
        var m = s.Tensors[M]!;
        var v = s.Tensors[V]!;
        m.mul_(kept[beta1]).add_(g, alpha: kept[1 - beta1]);
        var rotated = Project(s, g, back: false);
        v.mul_(kept[beta2]).addcmul_(rotated, rotated, value: kept[1 - beta2]);
        var direction = Project(s, Project(s, m, back: false).div(v.sqrt().add(kept[o.Eps!.Value], ScalarCalls.One)), back: true);
        double stepSize = lr * Math.Sqrt(1 - Math.Pow(beta2, k)) / (1 - Math.Pow(beta1, k));
        p.add_(direction.reshape(p.shape).to(p.dtype), alpha: kept[-stepSize]);
        if (o.WeightDecay!.Value > 0) p.mul_(kept[1 - lr * o.WeightDecay.Value]);

        double sb = o.ShampooBeta!.Value;
        if (left) s.Tensors[L]!.mul_(kept[sb]).add_(g.matmul(g.t()), alpha: kept[1 - sb]);
        if (right) s.Tensors[R]!.mul_(kept[sb]).add_(g.t().matmul(g), alpha: kept[1 - sb]);
        if (k % o.PreconditionFrequency!.Value == 0)
        {
            if (left) Refresh(s, QL, s.Tensors[L]!, dimension: 0);
            if (right) Refresh(s, QR, s.Tensors[R]!, dimension: 1);
        }
    }

    /// <summary>
    /// One power iteration and a QR decomposition from the current basis, columns ordered by the estimated eigenvalues
    /// (descending); V's entries along <paramref name="dimension"/> follow the new order.
    /// </summary>
    static void Refresh(KroneckerState s, int slot, Tensor factor, int dimension)
    {
        var q = s.Tensors[slot]!;
        var power = factor.matmul(q);
        var order = q.mul(power).sum(new long[] { 0 }).argsort(descending: true);
        Keep(s, slot, linalg.qr(power.index_select(1, order)).Q);
        Keep(s, V, s.Tensors[V]!.index_select(dimension, order));
    }
}
