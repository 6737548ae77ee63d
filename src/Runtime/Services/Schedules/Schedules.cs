using System;

namespace OptDsl.Runtime.Services.Schedules;

/// <summary>
/// The usual schedules. Each is a pure function of the step (from 0); after its last step it holds its end value.
/// Where PyTorch has the same schedule the values match its <c>torch.optim.lr_scheduler</c> (checked against fixtures).
/// </summary>
public static class Schedules
{
    /// <summary>Always <paramref name="value"/>.</summary>
    public static Schedule Constant(double value) => new Function(_ => value);

    /// <summary>
    /// Any function of the step (from 0), e.g. the EMA decay warmup <c>t =&gt; Math.Min(0.999, (1 + t) / (10.0 + t))</c>.
    /// It must be pure: checkpoints resume it by the step alone.
    /// </summary>
    public static Schedule Of(Func<long, double> at)
    {
        ArgumentNullException.ThrowIfNull(at);
        return new Function(at);
    }

    /// <summary>From <paramref name="start"/> at step 0 to <paramref name="end"/> at <paramref name="steps"/>, in a straight line (PyTorch's <c>LinearLR</c> as a factor).</summary>
    public static Schedule Linear(double start, double end, long steps)
    {
        Positive(steps, nameof(steps));
        return new Function(t => start + (end - start) * Math.Min(t, steps) / steps);
    }

    /// <summary>Half a cosine from <paramref name="start"/> to <paramref name="end"/> over <paramref name="steps"/> (PyTorch's <c>CosineAnnealingLR</c> with <c>eta_min = end</c>).</summary>
    public static Schedule Cosine(double start, double end, long steps)
    {
        Positive(steps, nameof(steps));
        return new Function(t => end + (start - end) * (1 + Math.Cos(Math.PI * Math.Min(t, steps) / steps)) / 2);
    }

    /// <summary><paramref name="start"/> times <paramref name="gamma"/> to the step (PyTorch's <c>ExponentialLR</c>).</summary>
    public static Schedule Exponential(double start, double gamma)
    {
        if (!(gamma > 0)) throw new ArgumentException($"Exponential schedule: gamma is {gamma}; it must be positive.", nameof(gamma));
        return new Function(t => start * Math.Pow(gamma, t));
    }

    /// <summary>
    /// From <paramref name="start"/> to <paramref name="end"/> along <c>(1 - t / steps)^power</c> (PyTorch's
    /// <c>PolynomialLR</c> when <paramref name="end"/> is 0).
    /// </summary>
    public static Schedule Polynomial(double start, double end, long steps, double power = 1.0)
    {
        Positive(steps, nameof(steps));
        return new Function(t => end + (start - end) * Math.Pow(1 - (double)Math.Min(t, steps) / steps, power));
    }

    /// <summary>A warmup from <paramref name="from"/> to where <paramref name="then"/> starts, over <paramref name="steps"/>, then <paramref name="then"/>.</summary>
    public static Schedule Warmup(long steps, Schedule then, DecayShape shape = DecayShape.Linear, double from = 0)
    {
        Positive(steps, nameof(steps));
        double target = then.At(0);
        var warmup = shape == DecayShape.Cosine
            ? new Function(t => target + (from - target) * (1 + Math.Cos(Math.PI * t / steps)) / 2)
            : new Function(t => from + (target - from) * t / steps);
        return warmup.Then(steps, then);
    }

    /// <summary>Warmup-stable-decay with the decay taking the last <paramref name="decayFraction"/> of the run; see <see cref="WsdSchedule"/>.</summary>
    public static WsdSchedule Wsd(long totalSteps, long warmupSteps, double decayFraction, double peak = 1.0, double final = 0.0,
        DecayShape shape = DecayShape.Linear) => WsdSchedule.WithDecayFraction(totalSteps, warmupSteps, decayFraction, peak, final, shape);

    /// <summary>
    /// An optional linear warmup to <paramref name="peak"/>, then a straight line to zero at <paramref name="totalSteps"/>
    /// (the "linear decay to zero" that matches or beats cosine when tuned, Bergsma et al., 2025).
    /// </summary>
    public static Schedule LinearDecayToZero(double peak, long totalSteps, long warmupSteps = 0)
    {
        Positive(totalSteps, nameof(totalSteps));
        if (warmupSteps < 0 || warmupSteps >= totalSteps)
            throw new ArgumentException($"Linear decay to zero: warmupSteps is {warmupSteps}; it must lie in [0, totalSteps).", nameof(warmupSteps));
        var decay = Linear(peak, 0, totalSteps - warmupSteps);
        return warmupSteps == 0 ? decay : Warmup(warmupSteps, decay);
    }

    /// <summary>
    /// The one-cycle policy as PyTorch's <c>OneCycleLR</c> computes it (two phases): from <c>max / divFactor</c> up to
    /// <paramref name="max"/> over the first <paramref name="pctStart"/> of the run, then down to
    /// <c>max / divFactor / finalDivFactor</c> at the last step, each phase cosine (or linear) annealed.
    /// </summary>
    public static Schedule OneCycle(double max, long totalSteps, double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4,
        DecayShape anneal = DecayShape.Cosine)
    {
        if (totalSteps < 2) throw new ArgumentException($"One-cycle: totalSteps is {totalSteps}; it must be at least 2.", nameof(totalSteps));
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentException($"One-cycle: pctStart is {pctStart}; it must lie in (0, 1).", nameof(pctStart));
        double initial = max / divFactor, minimum = initial / finalDivFactor;
        double peakStep = pctStart * totalSteps - 1, lastStep = totalSteps - 1;
        double Anneal(double from, double to, double pct) => anneal == DecayShape.Linear
            ? (to - from) * pct + from
            : to + (from - to) / 2 * (Math.Cos(Math.PI * pct) + 1);
        return new Function(t =>
        {
            double step = Math.Min(t, lastStep);
            return step <= peakStep
                ? Anneal(initial, max, step / peakStep)
                : Anneal(max, minimum, (step - peakStep) / (lastStep - peakStep));
        });
    }

    /// <summary>
    /// A cool-down that starts at <paramref name="startStep"/> — typically the step of a checkpoint saved in a WSD run's
    /// stable phase — from <paramref name="from"/> to <paramref name="to"/> over <paramref name="decaySteps"/>, holding
    /// <paramref name="from"/> before it (Hägele et al., 2024: one long stable run, cool-downs branched off it).
    /// </summary>
    public static Schedule DecayFrom(long startStep, long decaySteps, double from, double to = 0, DecayShape shape = DecayShape.OneMinusSqrt)
    {
        if (startStep < 0) throw new ArgumentException($"Decay from a checkpoint: startStep is {startStep}; it must not be negative.", nameof(startStep));
        return new WsdSchedule(startStep + decaySteps, 0, startStep, from, to, shape);
    }

    static void Positive(long steps, string name)
    {
        if (steps <= 0) throw new ArgumentException($"{name} is {steps}; it must be positive.", name);
    }

    sealed class Function(Func<long, double> at) : Schedule
    {
        public override double At(long step) => at(step);
    }
}
