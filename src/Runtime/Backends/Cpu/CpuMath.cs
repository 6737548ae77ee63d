using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>Scalar helpers the fused CPU code calls where <see cref="MathF"/> has no function of the same meaning.</summary>
public static class CpuMath
{
    /// <summary>-1, 0 or 1; NaN for NaN (<see cref="MathF.Sign(float)"/> throws there).</summary>
    public static float Sign(float x) => x > 0 ? 1f : x < 0 ? -1f : x == 0 ? 0f : float.NaN;

    /// <summary><c>1 / (1 + exp(-x))</c>.</summary>
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary><paramref name="x"/> limited to [<paramref name="min"/>, <paramref name="max"/>], NaN-propagating.</summary>
    public static float Clamp(float x, float min, float max) => MathF.Min(MathF.Max(x, min), max);

    /// <summary><c>a + w * (b - a)</c>.</summary>
    public static float Lerp(float a, float b, float w) => a + w * (b - a);
}
