using System;

namespace OptDsl.Runtime.Core;

/// <summary>
/// The host (double) versions of <c>OptMath</c>, used by generated code for work that depends only on
/// hyperparameters and the step.
/// </summary>
public static class HostMath
{
    /// <summary>-1, 0 or 1; NaN for NaN.</summary>
    public static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : double.NaN;

    /// <summary><c>1 / sqrt(x)</c>.</summary>
    public static double Rsqrt(double x) => 1 / Math.Sqrt(x);

    /// <summary><c>x * x</c>.</summary>
    public static double Square(double x) => x * x;

    /// <summary><c>1 / (1 + exp(-x))</c>.</summary>
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary><paramref name="x"/> limited to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static double Clamp(double x, double min, double max) => Math.Min(Math.Max(x, min), max);

    /// <summary><c>a + w * (b - a)</c>.</summary>
    public static double Lerp(double a, double b, double w) => a + w * (b - a);
}
