using System;

namespace OptDsl.Runtime.Services.Schedules;

/// <summary>
/// A value that depends on the step: a learning rate, a weight decay, a beta. Schedules are small immutable values
/// that compose (<see cref="Then"/>, <see cref="op_Multiply(double, Schedule)"/>, <see cref="Schedules"/>); one is
/// evaluated once per optimizer step on the host, so it costs nothing per element.
/// </summary>
public abstract class Schedule
{
    /// <summary>The value at <paramref name="step"/> (counted from 0).</summary>
    public abstract double At(long step);

    /// <summary>
    /// The largest magnitude the schedule reaches at any step (a bound), or infinity where it is not known (a
    /// <see cref="Schedules.Of"/> function): what lets a scaled schedule refuse a factor that would overflow.
    /// </summary>
    internal virtual double Magnitude => double.PositiveInfinity;

    /// <summary>
    /// This schedule of learning rates as the factor TorchSharp's <c>LambdaLR</c> multiplies a group's initial learning
    /// rate by: <c>step =&gt; At(step) / initialLearningRate</c>. Give the learning rate the optimizer was built with:
    /// <c>LambdaLR(optimizer, Schedules.Wsd(..., peak: 3e-4).AsFactorOf(3e-4))</c> runs at 3e-4 on the plateau. (A
    /// declared optimizer needs no scheduler: <c>optimizer.Schedule("lr", schedule)</c> sets the value itself.)
    /// </summary>
    /// <param name="initialLearningRate">The learning rate each group starts from, which LambdaLR multiplies; not zero.</param>
    public Func<int, double> AsFactorOf(double initialLearningRate)
    {
        if (!double.IsFinite(initialLearningRate) || initialLearningRate == 0)
            throw new ArgumentException(
                $"A factor of the initial learning rate needs that rate finite and not zero; it is {initialLearningRate}.", nameof(initialLearningRate));
        return step => At(step) / initialLearningRate;
    }

    /// <summary>This schedule until <paramref name="boundary"/>, then <paramref name="next"/> counted from 0 there (as PyTorch's <c>SequentialLR</c>).</summary>
    public Schedule Then(long boundary, Schedule next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return new JoinedSchedule(this, boundary, next);
    }

    /// <summary>
    /// The schedule scaled by a constant factor; a factor that is not finite, or that would take a value of the
    /// schedule past the largest double, is refused.
    /// </summary>
    public static Schedule operator *(double factor, Schedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (!double.IsFinite(factor))
            throw new ArgumentException($"Scaled schedule: the factor is {factor}; it must be finite.", nameof(factor));
        if (!double.IsFinite(Math.Abs(factor) * schedule.Magnitude) && double.IsFinite(schedule.Magnitude))
            throw new ArgumentException(
                $"Scaled schedule: the factor {factor} times the schedule's largest value {schedule.Magnitude} overflows.", nameof(factor));
        return new ScaledSchedule(factor, schedule);
    }

    sealed class JoinedSchedule(Schedule first, long boundary, Schedule next) : Schedule
    {
        public override double At(long step) => step < boundary ? first.At(step) : next.At(step - boundary);

        internal override double Magnitude => Math.Max(first.Magnitude, next.Magnitude);
    }

    sealed class ScaledSchedule(double factor, Schedule inner) : Schedule
    {
        public override double At(long step) => factor * inner.At(step);

        internal override double Magnitude => Math.Abs(factor) * inner.Magnitude;
    }
}
