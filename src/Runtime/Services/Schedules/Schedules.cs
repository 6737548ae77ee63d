using System;

namespace OptDsl.Runtime.Services.Schedules;

/// <summary>
/// The usual schedules. Each is a pure function of the step (from 0); after its last step it holds its end value.
/// Where PyTorch has the same schedule the values match its <c>torch.optim.lr_scheduler</c> (checked against fixtures).
/// Each refuses, when built, settings for which some step would give NaN or infinity (an <see cref="ArgumentException"/>
/// naming the setting); only <see cref="Of"/>, any function, cannot be checked before it runs.
/// </summary>
public static class Schedules
{
    /// <summary>Always <paramref name="value"/>.</summary>
    public static Schedule Constant(double value)
    {
        Finite("Constant schedule", value, nameof(value));
        return new Function(_ => value, Math.Abs(value));
    }

    /// <summary>
    /// Any function of the step (from 0), e.g. the EMA decay warmup <c>t =&gt; Math.Min(0.999, (1 + t) / (10.0 + t))</c>.
    /// It must be pure: checkpoints resume it by the step alone. Unlike the other schedules it is not checked when built:
    /// the optimizer checks each value it yields, at its step, before anything changes.
    /// </summary>
    public static Schedule Of(Func<long, double> at)
    {
        ArgumentNullException.ThrowIfNull(at);
        return new Function(at, double.PositiveInfinity);
    }

    /// <summary>From <paramref name="start"/> at step 0 to <paramref name="end"/> at <paramref name="steps"/>, in a straight line (PyTorch's <c>LinearLR</c> as a factor).</summary>
    public static Schedule Linear(double start, double end, long steps)
    {
        Positive(steps, nameof(steps));
        Ends("Linear schedule", start, end);
        // (end - start) * t is the largest intermediate, at t = steps.
        if (!double.IsFinite((end - start) * steps))
            throw new ArgumentException($"Linear schedule: end - start ({end - start}) times steps ({steps}) overflows; the line cannot be evaluated.", nameof(end));
        return new Function(t => start + (end - start) * Math.Min(t, steps) / steps, Math.Max(Math.Abs(start), Math.Abs(end)));
    }

    /// <summary>Half a cosine from <paramref name="start"/> to <paramref name="end"/> over <paramref name="steps"/> (PyTorch's <c>CosineAnnealingLR</c> with <c>eta_min = end</c>).</summary>
    public static Schedule Cosine(double start, double end, long steps)
    {
        Positive(steps, nameof(steps));
        Ends("Cosine schedule", start, end);
        SpanTwice("Cosine schedule", start - end, nameof(end));
        return new Function(t => end + (start - end) * (1 + Math.Cos(Math.PI * Math.Min(t, steps) / steps)) / 2, Math.Max(Math.Abs(start), Math.Abs(end)));
    }

    /// <summary>
    /// <paramref name="start"/> times <paramref name="gamma"/> to the step (PyTorch's <c>ExponentialLR</c>). A gamma
    /// above 1 is refused: the value would grow without bound and reach infinity at some step.
    /// </summary>
    public static Schedule Exponential(double start, double gamma)
    {
        Finite("Exponential schedule", start, nameof(start));
        if (!(gamma > 0 && gamma <= 1))
            throw new ArgumentException(
                $"Exponential schedule: gamma is {gamma}; it must lie in (0, 1]. Above 1 the value grows without bound and becomes infinite " +
                "at some step; for a growth over a known number of steps use Schedules.Of with the step capped.", nameof(gamma));
        return new Function(t => start * Math.Pow(gamma, t), Math.Abs(start));
    }

    /// <summary>
    /// From <paramref name="start"/> to <paramref name="end"/> along <c>(1 - t / steps)^power</c> (PyTorch's
    /// <c>PolynomialLR</c> when <paramref name="end"/> is 0). The power must be finite and not negative: a negative
    /// one would divide by zero at the last step.
    /// </summary>
    public static Schedule Polynomial(double start, double end, long steps, double power = 1.0)
    {
        Positive(steps, nameof(steps));
        Ends("Polynomial schedule", start, end);
        if (!(power >= 0 && double.IsFinite(power)))
            throw new ArgumentException($"Polynomial schedule: power is {power}; it must be finite and at least 0 (0 to a negative power is infinite at the last step).", nameof(power));
        // The factor (1 - t / steps)^power lies in [0, 1], so only the span can overflow.
        if (!double.IsFinite(start - end))
            throw new ArgumentException($"Polynomial schedule: start - end overflows ({start} - {end}).", nameof(end));
        return new Function(t => end + (start - end) * Math.Pow(1 - (double)Math.Min(t, steps) / steps, power), Math.Max(Math.Abs(start), Math.Abs(end)));
    }

    /// <summary>A warmup from <paramref name="from"/> to where <paramref name="then"/> starts, over <paramref name="steps"/>, then <paramref name="then"/>.</summary>
    public static Schedule Warmup(long steps, Schedule then, DecayShape shape = DecayShape.Linear, double from = 0)
    {
        Positive(steps, nameof(steps));
        ArgumentNullException.ThrowIfNull(then);
        Finite("Warmup", from, nameof(from));
        double target = then.At(0);
        if (!double.IsFinite(target))
            throw new ArgumentException($"Warmup: the schedule it leads into starts at {target}; the warmup needs a finite value to rise to.", nameof(then));
        double bound = Math.Max(Math.Abs(from), Math.Abs(target));
        Function warmup;
        if (shape == DecayShape.Cosine)
        {
            SpanTwice("Warmup", from - target, nameof(from));
            warmup = new Function(t => target + (from - target) * (1 + Math.Cos(Math.PI * t / steps)) / 2, bound);
        }
        else
        {
            if (!double.IsFinite((target - from) * steps))
                throw new ArgumentException($"Warmup: the rise ({target - from}) times steps ({steps}) overflows; the line cannot be evaluated.", nameof(from));
            warmup = new Function(t => from + (target - from) * t / steps, bound);
        }
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
        Finite("Linear decay to zero", peak, nameof(peak));
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
        Finite("One-cycle", max, nameof(max));
        double initial = max / divFactor, minimum = initial / finalDivFactor;
        if (!double.IsFinite(initial))
            throw new ArgumentException($"One-cycle: divFactor is {divFactor}, which makes the initial value max / divFactor = {initial}; it must be finite.", nameof(divFactor));
        if (!double.IsFinite(minimum))
            throw new ArgumentException($"One-cycle: finalDivFactor is {finalDivFactor}, which makes the final value {minimum}; it must be finite.", nameof(finalDivFactor));
        if (!double.IsFinite(max - initial) || !double.IsFinite(max - minimum))
            throw new ArgumentException($"One-cycle: max ({max}) and the values it is divided down to ({initial}, {minimum}) lie too far apart to anneal between.", nameof(divFactor));
        double peakStep = pctStart * totalSteps - 1, lastStep = totalSteps - 1;
        // The warm-up's progress is step / peakStep: a peak at step 0 gives 0 / 0 there (PyTorch divides by zero too).
        // The decay's denominator, lastStep - peakStep = totalSteps (1 - pctStart), is always positive.
        if (peakStep == 0)
            throw new ArgumentException(
                $"One-cycle: pctStart ({pctStart}) times totalSteps ({totalSteps}) is 1, which puts the peak at step 0 and makes the first value 0/0 (NaN); " +
                "choose pctStart so that pctStart * totalSteps differs from 1.", nameof(pctStart));
        double Anneal(double from, double to, double pct) => anneal == DecayShape.Linear
            ? (to - from) * pct + from
            : to + (from - to) / 2 * (Math.Cos(Math.PI * pct) + 1);
        return new Function(t =>
        {
            double step = Math.Min(t, lastStep);
            return step <= peakStep
                ? Anneal(initial, max, step / peakStep)
                : Anneal(max, minimum, (step - peakStep) / (lastStep - peakStep));
        }, Math.Max(Math.Abs(max), Math.Max(Math.Abs(initial), Math.Abs(minimum))));
    }

    /// <summary>
    /// A cool-down that starts at <paramref name="startStep"/> — typically the step of a checkpoint saved in a WSD run's
    /// stable phase — from <paramref name="from"/> to <paramref name="to"/> over <paramref name="decaySteps"/>, holding
    /// <paramref name="from"/> before it (Hägele et al., 2024: one long stable run, cool-downs branched off it).
    /// </summary>
    public static Schedule DecayFrom(long startStep, long decaySteps, double from, double to = 0, DecayShape shape = DecayShape.OneMinusSqrt)
    {
        if (startStep < 0) throw new ArgumentException($"Decay from a checkpoint: startStep is {startStep}; it must not be negative.", nameof(startStep));
        Ends("Decay from a checkpoint", from, to, nameof(from), nameof(to));
        return new WsdSchedule(startStep + decaySteps, 0, startStep, from, to, shape);
    }

    static void Positive(long steps, string name)
    {
        if (steps <= 0) throw new ArgumentException($"{name} is {steps}; it must be positive.", name);
    }

    static void Finite(string schedule, double value, string name)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{schedule}: {name} is {value}; it must be finite.", name);
    }

    static void Ends(string schedule, double start, double end, string startName = "start", string endName = "end")
    {
        Finite(schedule, start, startName);
        Finite(schedule, end, endName);
    }

    /// <summary>A cosine between two values computes their difference times up to 2.</summary>
    static void SpanTwice(string schedule, double span, string name)
    {
        if (!double.IsFinite(2 * span))
            throw new ArgumentException($"{schedule}: its two ends lie {span} apart, too far to anneal between without overflow.", name);
    }

    /// <summary>A schedule given by a function, with the largest magnitude it reaches (infinity when not known).</summary>
    sealed class Function(Func<long, double> at, double magnitude) : Schedule
    {
        public override double At(long step) => at(step);

        internal override double Magnitude => magnitude;
    }
}
