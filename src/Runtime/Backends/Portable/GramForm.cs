using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// Newton–Schulz on the Gram matrix of a wide m x n matrix X (m &lt; n): fewer products where n is well above m.
/// <para>
/// An iteration is X &lt;- P X with P = aI + bG + cG² and G = XXᵀ, so k iterations make X_k = Q X_0 with
/// Q = P_(k-1)...P_0, and the Gram matrix follows as G &lt;- P G P (the P and G of one iteration commute). Only the first
/// Gram matrix and the final Q X_0 touch the n side: 2m²n multiply-adds, plus at most 4m³ per iteration, against
/// 2m²n + m³ per iteration on X itself. For GPT-2's 768 x 3072 matrices five iterations take two thirds of the work.
/// </para>
/// <para>
/// In bfloat16 the Gram matrix drifts: each iteration multiplies its rounding errors by up to a² (about 12), and an
/// ill-conditioned X (singular values falling as 1/i) came out with singular values near 67 after five iterations
/// instead of at most 1.2. So X and G are formed afresh after the first three iterations and then every two. On the
/// H200, with singular values falling as 1/i or 1/i² and for Gaussian matrices, that stays as close to the float64
/// iteration as iterating on X in bfloat16 does (benchmarks/OptDsl.GpuBench/ns_variants.py, docs/benchmarks.md).
/// </para>
/// </summary>
internal static class GramForm
{
    /// <summary>The iterations before the first fresh start, and between later ones.</summary>
    internal const int First = 3, Then = 2;

    /// <summary>Whether the Gram form takes fewer multiply-adds than iterating on X for a wide m x n matrix.</summary>
    public static bool Saves(long m, long n, int steps, double c) => steps > 0 && m < n && Cost(m, n, steps, c) < PlainCost(m, n, steps, c);

    /// <summary>Multiply-adds of <paramref name="steps"/> iterations on X.</summary>
    internal static double PlainCost(double m, double n, int steps, double c) => steps * (2 * m * m * n + (c == 0 ? 0 : m * m * m));

    /// <summary>Multiply-adds of the Gram form, its fresh starts included.</summary>
    internal static double Cost(double m, double n, int steps, double c)
    {
        double total = 0;
        foreach (int k in Segments(steps))
            total += 2 * m * m * n + m * m * m * ((c == 0 ? 0 : k) + (k - 1) + 2 * (k - 1));
        return total;
    }

    /// <summary>How many iterations run between fresh starts: <paramref name="first"/>, then <paramref name="then"/> at a time.</summary>
    internal static System.Collections.Generic.IEnumerable<int> Segments(int steps, int first = First, int then = Then)
    {
        for (int done = 0; done < steps;)
        {
            int k = Math.Min(done == 0 ? first : then, steps - done);
            yield return k;
            done += k;
        }
    }

    /// <summary>
    /// <paramref name="steps"/> iterations on a wide matrix or batch <paramref name="x"/> of unit norm, in its type
    /// (tests pass other <paramref name="first"/> and <paramref name="then"/> to show what the fresh starts prevent).
    /// </summary>
    public static Tensor Iterate(Tensor x, int steps, double a, double b, double c, int first = First, int then = Then, int schedule = Coefficients.Constant) =>
        Iterate(new[] { x }, steps, a, b, c, first, then, schedule)[0];

    /// <summary>
    /// The iterations on several wide batches <paramref name="xs"/> ([count, m, n], or one m x n matrix) of unit norm
    /// whose Gram matrices share their size m, whatever their n: the m x m work of all of them runs as one batched
    /// chain, so a step issues its products once instead of once per shape (the host, not the device, bounds a Muon
    /// step on GPT-2's four shapes). Only forming G and the final Q X go shape by shape.
    /// </summary>
    public static Tensor[] Iterate(IReadOnlyList<Tensor> xs, int steps, double a, double b, double c, int first = First, int then = Then, int schedule = Coefficients.Constant)
    {
        using var kept = KeptScalars.Rent();
        var x = xs.ToArray();
        int iteration = 0;
        // Constant coefficients take their Scalars once: each is a native allocation, and the step is bound by the host.
        var (constantA, constantB) = schedule == Coefficients.Constant ? (kept[a], kept[b]) : (null, null);
        long m = x[0].shape[^2];
        if (x.Any(t => t.shape[^2] != m)) throw new ArgumentException("The Gram form's batches must share their row count.", nameof(xs));
        bool one = x.Length == 1;
        var counts = x.Select(t => t.dim() == 3 ? t.shape[0] : 1).ToArray();
        foreach (int k in Segments(steps, first, then))
        {
            // Every call here is a native one the host pays for, and a Muon step is bound by the host: no reshape of
            // a batch that has its three dimensions already.
            var g = one ? x[0].matmul(x[0].mT) : torch.cat(x.Select(t => t.dim() == 3 ? t.matmul(t.mT) : t.matmul(t.mT).unsqueeze(0)).ToArray(), 0);
            Tensor? q = null;
            for (int i = 0; i < k; i++, iteration++)
            {
                // P = aI + bG + cG²: the product and the sum in one matmul where the type allows (MatrixMath.AddMatmul).
                var (ai, bi, ci) = Coefficients.At(schedule, iteration, a, b, c);
                var p = ci == 0 ? g.mul(constantB ?? kept[bi]) : MatrixMath.AddMatmul(g, g, g, bi, ci);
                p.diagonal(0, -2, -1).add_(constantA ?? kept[ai], ScalarCalls.One);
                q = q is null ? p : p.matmul(q);
                if (i + 1 < k) g = p.matmul(g.matmul(p));
            }
            if (one) x[0] = q!.matmul(x[0]);
            else
                for (int j = 0, start = 0; j < x.Length; start += (int)counts[j], j++)
                    x[j] = x[j].dim() == 3 ? q!.narrow(0, start, counts[j]).matmul(x[j]) : q![start].matmul(x[j]);
        }
        return x;
    }
}
