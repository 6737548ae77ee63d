namespace OptDsl.Runtime.Services.Schedules;

/// <summary>How a schedule goes from its start value to its end value over a phase.</summary>
public enum DecayShape
{
    /// <summary>A straight line.</summary>
    Linear,
    /// <summary>Half a cosine wave: slow at both ends.</summary>
    Cosine,
    /// <summary><c>1 - sqrt(x)</c> of the phase's progress x, the cool-down that Hägele et al. (2024) found best for WSD.</summary>
    OneMinusSqrt,
}
