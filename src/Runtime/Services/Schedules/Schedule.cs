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

    /// <summary>This schedule as a function of the step, as TorchSharp's <c>LambdaLR</c> takes it (a factor of each group's initial learning rate).</summary>
    public Func<int, double> AsFunction() => step => At(step);

    /// <summary>This schedule until <paramref name="boundary"/>, then <paramref name="next"/> counted from 0 there (as PyTorch's <c>SequentialLR</c>).</summary>
    public Schedule Then(long boundary, Schedule next) => new JoinedSchedule(this, boundary, next);

    /// <summary>The schedule scaled by a constant factor.</summary>
    public static Schedule operator *(double factor, Schedule schedule) => new ScaledSchedule(factor, schedule);

    sealed class JoinedSchedule(Schedule first, long boundary, Schedule next) : Schedule
    {
        public override double At(long step) => step < boundary ? first.At(step) : next.At(step - boundary);
    }

    sealed class ScaledSchedule(double factor, Schedule inner) : Schedule
    {
        public override double At(long step) => factor * inner.At(step);
    }
}
