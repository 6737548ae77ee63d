using System;

namespace OptDsl.Runtime.Schedules;

/// <summary>
/// A value that depends on the step: a learning rate, a weight decay, a beta. Evaluated once per step on the host,
/// so it costs nothing per element.
/// </summary>
public abstract class Schedule
{
    /// <summary>The value at <paramref name="step"/> (counted from 0).</summary>
    public abstract double At(long step);

    /// <summary>This schedule as a function of the step, as TorchSharp's <c>LambdaLR</c> takes it (a factor of each group's initial learning rate).</summary>
    public Func<int, double> AsFunction() => step => At(step);
}
