using System;
using System.Linq;
using OptDsl.Runtime.HandWritten;
using OptDsl.Runtime.Services.Random;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// PSGD Kron in float64 from the author's equations, written apart from the implementation: plain arrays and loops,
/// the whole Kronecker product <c>Q = Q₁ ⊗ … ⊗ Q_d</c> formed as one matrix (row-major vec, so the first dimension is
/// the outermost factor), <c>Q⁻ᵀ</c> from each factor's inverse by back substitution, the per-dimension statistics
/// <c>Σ X[…a…]X[…b…]</c> summed index by index. The probe vectors and the draws come from the host
/// <see cref="CounterRandom"/> functions, element by element. A constant update probability only.
/// </summary>
internal sealed class PsgdKronReference
{
    public double Lr, Beta1, WeightDecay, PreconditionerLr, Clip, Probability;
    public ulong Seed;
    /// <summary>What happened, to check that the scenario exercises each branch.</summary>
    public int Updates, Skips, Balances, Clipped;
    public double SmallestRms = double.PositiveInfinity, LargestRms;

    /// <summary>One parameter: its dimensions, which factors are triangular, weights, momentum and factors (n×n row-major, or n).</summary>
    public sealed class Tensor64
    {
        public required int[] Dims;
        public required bool[] Triangular;
        public required double[] W;
        public required int Index;
        public double InitScale;
        public double[] M = Array.Empty<double>();
        public double[][] Q = Array.Empty<double[]>();
    }

    public void Step(long t, Tensor64 x, double[] g)
    {
        int count = g.Length, d = x.Dims.Length;
        if (t == 1) x.M = new double[count];
        var mh = new double[count];
        for (int f = 0; f < count; f++)
        {
            x.M[f] = Beta1 * x.M[f] + (1 - Beta1) * g[f];
            mh[f] = x.M[f] / (1 - Math.Pow(Beta1, t));
        }
        if (t == 1)
        {
            double s = x.InitScale;
            if (s == 0)
            {
                s = Math.Pow(mh.Select(v => v * v * v * v).Average(), -1.0 / 8);
                if (!double.IsFinite(s)) s = 1;
            }
            double per = Math.Pow(s, 1.0 / d);
            x.Q = new double[d][];
            for (int i = 0; i < d; i++)
            {
                int n = x.Dims[i];
                x.Q[i] = x.Triangular[i] ? new double[n * n] : Enumerable.Repeat(per, n).ToArray();
                if (x.Triangular[i]) for (int a = 0; a < n; a++) x.Q[i][a * n + a] = per;
            }
        }

        if (t == 1 || CounterRandom.Uniform(Seed, PsgdKron.UpdateStream, t) <= Probability)
        {
            Updates++;
            if (d > 1 && CounterRandom.Uniform(Seed, PsgdKron.BalanceStream, t) <= PsgdKron.BalanceProbability)
            {
                Balances++;
                var norms = x.Q.Select(q => q.Max(e => Math.Abs(e))).ToArray();
                double mean = Math.Exp(norms.Select(e => Math.Log(e)).Average());
                for (int i = 0; i < d; i++) for (int e = 0; e < x.Q[i].Length; e++) x.Q[i][e] *= mean / norms[i];
            }
            var v = new double[count];
            for (int f = 0; f < count; f++) v[f] = CounterRandom.Normal(Seed, PsgdKron.FirstProbeStream + (ulong)x.Index, (t - 1) * count + f);
            double damping = Math.Sqrt(Math.Pow(2, -23)) * mh.Select(e => Math.Abs(e)).Average();
            var h = mh.Select((m, f) => m + damping * v[f]).ToArray();
            var k = Kron(x, x.Q);
            var kInverse = Kron(x, x.Q.Select((q, i) => x.Triangular[i] ? UpperInverse(q, x.Dims[i]) : q.Select(e => 1 / e).ToArray()).ToArray());
            var a = Times(k, h, transpose: false);
            var b = Times(kInverse, v, transpose: true);
            var updated = new double[d][];
            for (int i = 0; i < d; i++)
            {
                int n = x.Dims[i];
                double[,] t1 = Gram(a, x.Dims, i), t2 = Gram(b, x.Dims, i);
                var q = x.Q[i];
                updated[i] = (double[])q.Clone();
                if (x.Triangular[i])
                {
                    var sum = new double[n, n];
                    for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) sum[r, c] = t1[r, c] + t2[r, c];
                    double rate = PreconditionerLr / LowerBound(sum);
                    for (int r = 0; r < n; r++)
                        for (int c = 0; c < n; c++)
                        {
                            double e = 0;
                            for (int j = r; j < n; j++) e += (t1[r, j] - t2[r, j]) * q[j * n + c];   // triu(T1 − T2) Q
                            updated[i][r * n + c] -= rate * e;
                        }
                }
                else
                {
                    double largest = Enumerable.Range(0, n).Max(r => t1[r, r] + t2[r, r]);
                    for (int r = 0; r < n; r++) updated[i][r] -= PreconditionerLr / largest * (t1[r, r] - t2[r, r]) * q[r];
                }
            }
            x.Q = updated;
        }
        else Skips++;

        var kq = Kron(x, x.Q);
        var u = Times(kq, Times(kq, mh, transpose: false), transpose: true);
        double rms = Math.Sqrt(u.Select(e => e * e).Average());
        (SmallestRms, LargestRms) = (Math.Min(SmallestRms, rms), Math.Max(LargestRms, rms));
        double factor = Math.Min(1, Clip / (rms + 1e-12));
        if (factor < 1) Clipped++;
        for (int f = 0; f < count; f++) x.W[f] = x.W[f] * (1 - Lr * WeightDecay) - Lr * factor * u[f];
    }

    /// <summary>Q₁ ⊗ … ⊗ Q_d as one matrix, a diagonal factor as a diagonal matrix.</summary>
    static double[,] Kron(Tensor64 x, double[][] factors)
    {
        var k = new double[1, 1];
        k[0, 0] = 1;
        for (int i = 0; i < factors.Length; i++)
        {
            int n = x.Dims[i], size = k.GetLength(0);
            var next = new double[size * n, size * n];
            for (int r = 0; r < size; r++)
                for (int c = 0; c < size; c++)
                    for (int a = 0; a < n; a++)
                        for (int b = 0; b < n; b++)
                            next[r * n + a, c * n + b] = k[r, c] * (x.Triangular[i] ? factors[i][a * n + b] : a == b ? factors[i][a] : 0);
            k = next;
        }
        return k;
    }

    static double[] Times(double[,] m, double[] v, bool transpose)
    {
        int n = v.Length;
        var y = new double[n];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) y[r] += (transpose ? m[c, r] : m[r, c]) * v[c];
        return y;
    }

    /// <summary>The inverse of an upper-triangular n×n matrix by back substitution, column by column.</summary>
    static double[] UpperInverse(double[] q, int n)
    {
        var inverse = new double[n * n];
        for (int c = 0; c < n; c++)
            for (int r = n - 1; r >= 0; r--)
            {
                double s = r == c ? 1 : 0;
                for (int j = r + 1; j < n; j++) s -= q[r * n + j] * inverse[j * n + c];
                inverse[r * n + c] = s / q[r * n + r];
            }
        return inverse;
    }

    /// <summary><c>T[a, b] = Σ X[…a…] X[…b…]</c> over the other indices, with a and b at dimension <paramref name="i"/>.</summary>
    static double[,] Gram(double[] x, int[] dims, int i)
    {
        int n = dims[i], stride = dims.Skip(i + 1).Aggregate(1, (p, e) => p * e);
        var t = new double[n, n];
        for (int f = 0; f < x.Length; f++)
        {
            int a = f / stride % n;
            for (int b = 0; b < n; b++) t[a, b] += x[f] * x[f + (b - a) * stride];
        }
        return t;
    }

    /// <summary>The author's lower bound of a symmetric matrix's spectral norm: one power step from its largest column.</summary>
    static double LowerBound(double[,] s)
    {
        int n = s.GetLength(0);
        double scale = 0;
        foreach (var e in s) scale = Math.Max(scale, Math.Abs(e));
        int best = 0;
        double bestNorm = -1;
        for (int c = 0; c < n; c++)
        {
            double norm = 0;
            for (int r = 0; r < n; r++) norm += s[r, c] / scale * (s[r, c] / scale);
            if (norm > bestNorm) (best, bestNorm) = (c, norm);
        }
        var y = new double[n];
        for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) y[r] += s[r, c] / scale * (s[c, best] / scale);
        double yNorm = Math.Sqrt(y.Sum(e => e * e));
        double z = 0;
        for (int r = 0; r < n; r++)
        {
            double e = 0;
            for (int c = 0; c < n; c++) e += s[r, c] / scale * y[c] / yNorm;
            z += e * e;
        }
        return Math.Sqrt(z) * scale;
    }
}
