using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// Low-rank subspace optimisation: FRUGAL (Zmushko et al., 2024, "FRUGAL: Memory-Efficient Optimization by Reducing
/// State Overhead for Scalable Training") and, with <c>residualLr: 0</c>, GaLore (Zhao et al., 2024, "GaLore:
/// Memory-Efficient LLM Training by Gradient Low-Rank Projection"). For a matrix G (m×n) with m ≤ n, every
/// <c>updateGap</c> steps (and at the first) P = the top-r left singular vectors of G (m×r; the right ones, n×r, when
/// m &gt; n); Adam runs on the projected gradient R = PᵀG (its state r×n instead of m×n, kept across refreshes as
/// GaLore does) and its step comes back as <c>α P Adam(R)</c>; the rest of the gradient, <c>G − P PᵀG</c>, takes a
/// state-free signSGD step at <c>residualLr</c>. Decoupled weight decay. Vectors take plain Adam (FRUGAL keeps them
/// stateful; GaLore leaves them to Adam).
/// </summary>
/// <remarks>
/// State: <c>p</c> (the projection), <c>m</c>, <c>v</c> (r×n or m×r; a vector's: its shape as one row). With
/// <c>svdFree: true</c> the projection takes, instead of singular vectors, the r columns of a fixed orthonormal basis
/// (the DCT-II) along which the gradient has the most energy — no SVD, and a basis the same on every device.
/// </remarks>
public sealed class Frugal : KroneckerOptimizer
{
    const int P = 0, M = 1, V = 2;
    static readonly string[] Slots = { "p", "m", "v" };

    /// <summary>Creates FRUGAL (or GaLore, with <paramref name="residualLr"/> 0) over <paramref name="parameters"/>.</summary>
    public Frugal(IEnumerable<Parameter> parameters, double lr = 1e-3, int rank = 128, int updateGap = 200, double scale = 1,
        double residualLr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool svdFree = false)
        : this(new[] { new ParamGroup<KroneckerOptions>(parameters, new KroneckerOptions()) }, new KroneckerOptions
        {
            LearningRate = lr, InitialLearningRate = lr, Rank = rank, PreconditionFrequency = updateGap, Scale = scale,
            ResidualLearningRate = residualLr, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay,
            ShampooBeta = 0, MatrixEps = 1e-30, MaxPreconditionDim = int.MaxValue,
        })
    {
        SvdFree = svdFree;
    }

    /// <summary>Whether projections come from a fixed DCT basis (the columns of most gradient energy) instead of an SVD.</summary>
    public bool SvdFree { get; init; }

    /// <summary>Creates FRUGAL over parameter groups; what a group leaves unset comes from <paramref name="defaults"/>.</summary>
    public Frugal(IEnumerable<ParamGroup<KroneckerOptions>> groups, KroneckerOptions defaults)
        : base("FRUGAL", groups, defaults, Slots, new bool[3], new bool[3]) { }

    /// <summary>The rank used for a parameter: the option, at most the matrix's smaller side.</summary>
    static long RankOf(long rows, long columns, KroneckerOptions o) => Math.Min(o.Rank ?? 1, Math.Min(rows, columns));

    private protected override long[]? SlotShape(Parameter p, int slot, KroneckerOptions o)
    {
        var (m, n) = MatrixShape(p);
        if (p.dim() < 2) return slot == P ? null : new[] { m, n };
        long r = RankOf(m, n, o);
        bool left = m <= n;
        return slot == P ? (left ? new[] { m, r } : new[] { n, r }) : (left ? new[] { r, n } : new[] { m, r });
    }

    private protected override void Update(Parameter p, KroneckerState s, KroneckerOptions o, Tensor g, bool matrixLeft, bool matrixRight)
    {
        using var kept = KeptScalars.Rent();
        long t = s.Step;
        double beta1 = o.Beta1!.Value, beta2 = o.Beta2!.Value, lr = o.LearningRate!.Value;
        bool matrix = p.dim() >= 2;
        var (rows, columns) = (g.shape[0], g.shape[1]);
        bool left = rows <= columns;
        if (matrix && (t == 1 || (t - 1) % o.PreconditionFrequency!.Value == 0))
        {
            // The top-r singular vectors of this gradient on its smaller side.
            long r = RankOf(rows, columns, o);
            if (SvdFree)
            {
                // The r basis vectors along which the gradient has the most energy, in the basis's order.
                var basis = Dct(left ? rows : columns, g.dtype, g.device);
                var energy = (left ? basis.t().matmul(g) : g.matmul(basis).t()).Squared().sum(new long[] { 1 });
                var chosen = energy.topk((int)r).indexes.sort().Values;
                Keep(s, P, basis.index_select(1, chosen));
            }
            else
            {
                var (u, _, vh) = linalg.svd(g, fullMatrices: false);
                Keep(s, P, left ? u[.., ..(int)r] : vh[..(int)r, ..].t());
            }
        }
        var projection = s.Tensors[P];
        var reduced = projection is null ? g : left ? projection.t().matmul(g) : g.matmul(projection);
        if (t == 1)
        {
            Keep(s, M, torch.zeros_like(reduced));
            Keep(s, V, torch.zeros_like(reduced));
        }
        var m = s.Tensors[M]!;
        var v = s.Tensors[V]!;
        m.mul_(kept[beta1]).add_(reduced, alpha: kept[1 - beta1]);
        v.mul_(kept[beta2]).addcmul_(reduced, reduced, value: kept[1 - beta2]);
        var adam = m.div(kept[1 - Math.Pow(beta1, t)]).div(v.div(kept[1 - Math.Pow(beta2, t)]).sqrt().add(kept[o.Eps!.Value], ScalarCalls.One));
        var direction = projection is null ? adam : (left ? projection.matmul(adam) : adam.matmul(projection.t())).mul(kept[o.Scale!.Value]);
        if (o.WeightDecay!.Value > 0) p.mul_(kept[1 - lr * o.WeightDecay.Value]);
        p.add_(direction.reshape(p.shape).to(p.dtype), alpha: kept[-lr]);
        double residualLr = o.ResidualLearningRate!.Value;
        if (projection is not null && residualLr > 0)
        {
            // The part of the gradient outside the subspace takes a sign step with no state (FRUGAL).
            var inside = left ? projection.matmul(projection.t().matmul(g)) : g.matmul(projection).matmul(projection.t());
            p.add_(g.sub(inside).sign().reshape(p.shape).to(p.dtype), alpha: kept[-residualLr]);
        }
    }

    /// <summary>The orthonormal DCT-II basis of size <paramref name="n"/>, basis vectors as columns.</summary>
    internal static Tensor Dct(long n, ScalarType dtype, Device device)
    {
        using var kept = KeptScalars.Rent();
        var k = torch.arange(kept[0L], kept[n], ScalarCalls.One, ScalarType.Float64).unsqueeze(0);   // frequency, along columns
        var i = torch.arange(kept[0L], kept[n], ScalarCalls.One, ScalarType.Float64).unsqueeze(1);   // position, along rows
        var basis = (i.add(kept[0.5], ScalarCalls.One).mul(kept[Math.PI / n]) * k).cos().mul(kept[Math.Sqrt(2.0 / n)]);
        basis[.., 0] = basis[.., 0].div(kept[Math.Sqrt(2)]);
        return basis.to(dtype).to(device);
    }
}
