using System;
using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Runtime.Training.Privacy;

/// <summary>
/// Rényi differential privacy accounting for DP-SGD: the sampled Gaussian mechanism (each example in a step's batch
/// with probability q, Gaussian noise of <c>σ</c> times the clipping norm) over T steps, converted to (ε, δ).
/// </summary>
/// <remarks>
/// Per step and integer order α ≥ 2 the RDP is <c>log(A_α)/(α − 1)</c> with
/// <c>A_α = Σ_k C(α, k) (1 − q)^(α−k) q^k exp((k² − k)/(2σ²))</c> (Mironov, Talwar and Zhang, 2019, "Rényi Differential
/// Privacy of the Sampled Gaussian Mechanism"), computed in log space; RDP adds up over steps; and
/// <c>ε = min_α T·RDP(α) + log(1/δ)/(α − 1)</c> (Mironov 2017, Proposition 3). Integer orders only: accountants that also
/// try fractional orders (below 2 or between integers) may report a slightly smaller ε.
/// </remarks>
public static class RdpAccountant
{
    /// <summary>The orders tried by default: 2 to 64, then 80, 96, 128, 256, 512.</summary>
    public static IReadOnlyList<int> DefaultOrders { get; } = Enumerable.Range(2, 63).Concat(new[] { 80, 96, 128, 256, 512 }).ToArray();

    /// <summary>The RDP of one step at order <paramref name="order"/>.</summary>
    public static double StepRdp(double samplingRate, double noiseMultiplier, int order)
    {
        Check(samplingRate, noiseMultiplier);
        if (order < 2) throw new ArgumentOutOfRangeException(nameof(order), order, "Orders start at 2.");
        if (samplingRate == 0) return 0;
        double s2 = noiseMultiplier * noiseMultiplier;
        if (samplingRate == 1) return order / (2 * s2);
        // log A = logsumexp_k [log C(α, k) + (α − k) log(1 − q) + k log q + (k² − k)/(2σ²)]
        double logQ = Math.Log(samplingRate), log1mQ = Math.Log(1 - samplingRate);
        var terms = new double[order + 1];
        double logBinomial = 0;
        for (int k = 0; k <= order; k++)
        {
            if (k > 0) logBinomial += Math.Log((double)(order - k + 1) / k);
            terms[k] = logBinomial + (order - k) * log1mQ + k * logQ + (k * (double)k - k) / (2 * s2);
        }
        double max = terms.Max();
        double logA = max + Math.Log(terms.Sum(t => Math.Exp(t - max)));
        return logA / (order - 1);
    }

    /// <summary>ε for δ after <paramref name="steps"/> steps, and the order that gave it.</summary>
    public static (double Epsilon, int Order) Epsilon(double samplingRate, double noiseMultiplier, long steps, double delta, IEnumerable<int>? orders = null)
    {
        Check(samplingRate, noiseMultiplier);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "Steps cannot be negative.");
        if (!(delta > 0 && delta < 1)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must lie in (0, 1).");
        var best = (Epsilon: double.PositiveInfinity, Order: 0);
        foreach (int order in orders ?? DefaultOrders)
        {
            double epsilon = steps * StepRdp(samplingRate, noiseMultiplier, order) + Math.Log(1 / delta) / (order - 1);
            if (epsilon < best.Epsilon) best = (epsilon, order);
        }
        return best;
    }

    /// <summary>The smallest noise multiplier (to 0.1 % relative) that keeps ε at most <paramref name="targetEpsilon"/>.</summary>
    public static double NoiseFor(double samplingRate, long steps, double delta, double targetEpsilon)
    {
        if (!(targetEpsilon > 0)) throw new ArgumentOutOfRangeException(nameof(targetEpsilon), targetEpsilon, "ε must be positive.");
        double lo = 0.05, hi = 1000;
        if (Epsilon(samplingRate, hi, steps, delta).Epsilon > targetEpsilon)
            throw new ArgumentException($"No noise multiplier up to {hi} reaches ε = {targetEpsilon}.");
        while (hi / lo > 1.001)
        {
            double mid = Math.Sqrt(lo * hi);
            if (Epsilon(samplingRate, mid, steps, delta).Epsilon > targetEpsilon) lo = mid; else hi = mid;
        }
        return hi;
    }

    static void Check(double q, double sigma)
    {
        if (!(q >= 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "The sampling rate must lie in [0, 1].");
        if (!(sigma > 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "The noise multiplier must be positive and finite.");
    }
}
