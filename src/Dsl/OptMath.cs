using System;

namespace OptDsl;

/// <summary>
/// Scalar functions an update rule may call beside <see cref="MathF"/> and <see cref="Math"/>. Each has the same
/// meaning on every backend; these bodies are the reference semantics for one element.
/// </summary>
public static class OptMath
{
    /// <summary>-1, 0 or 1 as a float (unlike <see cref="MathF.Sign(float)"/>, NaN gives NaN instead of throwing).</summary>
    public static float Sign(float x) => x > 0 ? 1f : x < 0 ? -1f : x == 0 ? 0f : float.NaN;

    /// <summary><c>1 / sqrt(x)</c>.</summary>
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);

    /// <summary><c>x * x</c>.</summary>
    public static float Square(float x) => x * x;

    /// <summary>The logistic function <c>1 / (1 + exp(-x))</c>.</summary>
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary><paramref name="x"/> limited to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static float Clamp(float x, float min, float max) => MathF.Min(MathF.Max(x, min), max);

    /// <summary>Linear interpolation <c>a + w * (b - a)</c>.</summary>
    public static float Lerp(float a, float b, float w) => a + w * (b - a);
}
