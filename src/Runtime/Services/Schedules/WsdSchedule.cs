using System;

namespace OptDsl.Runtime.Services.Schedules;

/// <summary>
/// Warmup-stable-decay: a linear warmup to <see cref="Peak"/> over <see cref="WarmupSteps"/> (step s of the warmup
/// gives <c>Peak * (s + 1) / WarmupSteps</c>, so no step is wasted at zero), the peak until
/// <see cref="DecayStart"/>, then a decay of the chosen <see cref="Shape"/> to <see cref="Final"/> at
/// <see cref="TotalSteps"/>, where it stays. (Hu et al., 2024, "MiniCPM"; Hägele et al., 2024, "Scaling Laws and
/// Compute-Optimal Training beyond Fixed Training Durations".)
/// </summary>
public sealed class WsdSchedule : Schedule
{
    /// <summary>Creates the schedule; throws <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    /// <param name="totalSteps">Steps of the whole run; the decay ends here.</param>
    /// <param name="warmupSteps">Steps of the linear warmup from 0.</param>
    /// <param name="decayStart">The step the decay starts at.</param>
    /// <param name="peak">The value during the stable phase.</param>
    /// <param name="final">The value at the end of the decay.</param>
    /// <param name="shape">The shape of the decay.</param>
    public WsdSchedule(long totalSteps, long warmupSteps, long decayStart, double peak = 1.0, double final = 0.0, DecayShape shape = DecayShape.Linear)
    {
        if (totalSteps <= 0) throw new ArgumentException($"WSD: totalSteps is {totalSteps}; it must be positive.", nameof(totalSteps));
        if (warmupSteps < 0 || warmupSteps > decayStart)
            throw new ArgumentException($"WSD: warmupSteps is {warmupSteps}; it must lie in [0, decayStart = {decayStart}].", nameof(warmupSteps));
        if (decayStart > totalSteps)
            throw new ArgumentException($"WSD: decayStart is {decayStart}; it must not pass totalSteps = {totalSteps}.", nameof(decayStart));
        if (!double.IsFinite(peak) || !double.IsFinite(final))
            throw new ArgumentException($"WSD: peak ({peak}) and final ({final}) must be finite.", double.IsFinite(peak) ? nameof(final) : nameof(peak));
        // The warmup computes peak * (step + 1) up to peak * warmupSteps, the decay peak - final times a factor in [0, 1].
        if (!double.IsFinite(peak * warmupSteps))
            throw new ArgumentException($"WSD: peak ({peak}) times warmupSteps ({warmupSteps}) overflows; the warmup cannot be evaluated.", nameof(peak));
        if (!double.IsFinite(peak - final))
            throw new ArgumentException($"WSD: peak ({peak}) and final ({final}) lie too far apart to decay between without overflow.", nameof(final));
        (TotalSteps, WarmupSteps, DecayStart, Peak, Final, Shape) = (totalSteps, warmupSteps, decayStart, peak, final, shape);
    }

    /// <summary>A WSD schedule whose decay takes the last <paramref name="decayFraction"/> of the run.</summary>
    public static WsdSchedule WithDecayFraction(long totalSteps, long warmupSteps, double decayFraction, double peak = 1.0,
        double final = 0.0, DecayShape shape = DecayShape.Linear)
    {
        if (!(decayFraction >= 0 && decayFraction <= 1))
            throw new ArgumentException($"WSD: decayFraction is {decayFraction}; it must lie in [0, 1].", nameof(decayFraction));
        return new WsdSchedule(totalSteps, warmupSteps, totalSteps - (long)Math.Round(decayFraction * totalSteps), peak, final, shape);
    }

    /// <summary>Steps of the whole run.</summary>
    public long TotalSteps { get; }
    /// <summary>Steps of the warmup.</summary>
    public long WarmupSteps { get; }
    /// <summary>The step the decay starts at.</summary>
    public long DecayStart { get; }
    /// <summary>The stable value.</summary>
    public double Peak { get; }
    /// <summary>The value the decay ends at.</summary>
    public double Final { get; }
    /// <summary>The shape of the decay.</summary>
    public DecayShape Shape { get; }

    internal override double Magnitude => Math.Max(Math.Abs(Peak), Math.Abs(Final));

    /// <inheritdoc/>
    public override double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (step < DecayStart) return Peak;
        if (step >= TotalSteps) return Final;
        double x = (double)(step - DecayStart) / (TotalSteps - DecayStart);
        double remaining = Shape switch
        {
            DecayShape.Cosine => 0.5 * (1 + Math.Cos(Math.PI * x)),
            DecayShape.OneMinusSqrt => 1 - Math.Sqrt(x),
            _ => 1 - x,
        };
        return Final + (Peak - Final) * remaining;
    }
}
