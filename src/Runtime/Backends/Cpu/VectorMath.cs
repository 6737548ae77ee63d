using System;
using System.Numerics;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// <see cref="Vector{T}"/> versions of the rule's functions that <see cref="Vector"/> lacks or defines differently
/// (its Min/Max do not propagate NaN). Functions with no vector instruction (exp, log, pow, trigonometry) go lane by
/// lane: correct, not fast — the catalog's hot paths use none of them.
/// </summary>
public static class VectorMath
{
    static readonly Vector<float> NaN = new(float.NaN);

    /// <summary>Lane-wise <c>MathF.Min</c>: NaN in either gives NaN.</summary>
    public static Vector<float> Min(Vector<float> a, Vector<float> b) =>
        Vector.ConditionalSelect(Vector.Equals(a, a) & Vector.Equals(b, b), Vector.Min(a, b), NaN);

    /// <summary>Lane-wise <c>MathF.Max</c>: NaN in either gives NaN.</summary>
    public static Vector<float> Max(Vector<float> a, Vector<float> b) =>
        Vector.ConditionalSelect(Vector.Equals(a, a) & Vector.Equals(b, b), Vector.Max(a, b), NaN);

    /// <summary>The lanes' sum, lane 0 first (a fixed order: the same bits on every run).</summary>
    public static float SumOfLanes(Vector<float> x)
    {
        float sum = 0f;
        for (int i = 0; i < Vector<float>.Count; i++) sum += x[i];
        return sum;
    }

    /// <summary>The largest lane; NaN in any gives NaN.</summary>
    public static float MaxOfLanes(Vector<float> x)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < Vector<float>.Count; i++) max = MathF.Max(max, x[i]);
        return max;
    }

    /// <summary>The smallest lane; NaN in any gives NaN.</summary>
    public static float MinOfLanes(Vector<float> x)
    {
        float min = float.PositiveInfinity;
        for (int i = 0; i < Vector<float>.Count; i++) min = MathF.Min(min, x[i]);
        return min;
    }

    /// <summary>-1, 0 or 1 per lane; NaN stays NaN.</summary>
    public static Vector<float> Sign(Vector<float> x)
    {
        var sign = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), Vector<float>.One,
            Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), -Vector<float>.One, Vector<float>.Zero));
        return Vector.ConditionalSelect(Vector.Equals(x, x), sign, NaN);
    }

    /// <summary><paramref name="x"/> limited to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Vector<float> Clamp(Vector<float> x, Vector<float> min, Vector<float> max) => Min(Max(x, min), max);

    /// <summary><c>a + w * (b - a)</c>.</summary>
    public static Vector<float> Lerp(Vector<float> a, Vector<float> b, Vector<float> w) => a + w * (b - a);

    /// <summary><c>1 / (1 + exp(-x))</c>.</summary>
    public static Vector<float> Sigmoid(Vector<float> x) => Vector<float>.One / (Vector<float>.One + Exp(-x));

    /// <summary>Lane-wise <see cref="MathF.FusedMultiplyAdd"/>.</summary>
    public static Vector<float> FusedMultiplyAdd(Vector<float> a, Vector<float> b, Vector<float> c) =>
        Lanes(a, b, c, static (x, y, z) => MathF.FusedMultiplyAdd(x, y, z));

    /// <summary>Lane-wise <c>MathF.Exp</c>.</summary>
    public static Vector<float> Exp(Vector<float> x) => Lanes(x, MathF.Exp);
    /// <summary>Lane-wise <c>MathF.Log</c>.</summary>
    public static Vector<float> Log(Vector<float> x) => Lanes(x, MathF.Log);
    /// <summary>Lane-wise <c>MathF.Log2</c>.</summary>
    public static Vector<float> Log2(Vector<float> x) => Lanes(x, MathF.Log2);
    /// <summary>Lane-wise <c>MathF.Log10</c>.</summary>
    public static Vector<float> Log10(Vector<float> x) => Lanes(x, MathF.Log10);
    /// <summary>Lane-wise <c>MathF.Tanh</c>.</summary>
    public static Vector<float> Tanh(Vector<float> x) => Lanes(x, MathF.Tanh);
    /// <summary>Lane-wise <c>MathF.Sin</c>.</summary>
    public static Vector<float> Sin(Vector<float> x) => Lanes(x, MathF.Sin);
    /// <summary>Lane-wise <c>MathF.Cos</c>.</summary>
    public static Vector<float> Cos(Vector<float> x) => Lanes(x, MathF.Cos);
    /// <summary>Lane-wise <c>MathF.Tan</c>.</summary>
    public static Vector<float> Tan(Vector<float> x) => Lanes(x, MathF.Tan);
    /// <summary>Lane-wise <c>MathF.Atan</c>.</summary>
    public static Vector<float> Atan(Vector<float> x) => Lanes(x, MathF.Atan);
    /// <summary>Lane-wise <c>MathF.Round</c>.</summary>
    public static Vector<float> Round(Vector<float> x) => Lanes(x, MathF.Round);
    /// <summary>Lane-wise <c>MathF.Truncate</c>.</summary>
    public static Vector<float> Truncate(Vector<float> x) => Lanes(x, MathF.Truncate);
    /// <summary>Lane-wise <c>MathF.Atan2</c>.</summary>
    public static Vector<float> Atan2(Vector<float> y, Vector<float> x) => Lanes(y, x, MathF.Atan2);
    /// <summary>Lane-wise <c>MathF.Pow</c>.</summary>
    public static Vector<float> Pow(Vector<float> x, Vector<float> y) => Lanes(x, y, MathF.Pow);
    /// <summary>Lane-wise <c>x % y</c>.</summary>
    public static Vector<float> Remainder(Vector<float> x, Vector<float> y) => Lanes(x, y, static (a, b) => a % b);

    static Vector<float> Lanes(Vector<float> x, Func<float, float> f)
    {
        Span<float> lanes = stackalloc float[Vector<float>.Count];
        x.CopyTo(lanes);
        for (int i = 0; i < lanes.Length; i++) lanes[i] = f(lanes[i]);
        return new Vector<float>(lanes);
    }

    static Vector<float> Lanes(Vector<float> x, Vector<float> y, Func<float, float, float> f)
    {
        Span<float> a = stackalloc float[Vector<float>.Count];
        Span<float> b = stackalloc float[Vector<float>.Count];
        x.CopyTo(a);
        y.CopyTo(b);
        for (int i = 0; i < a.Length; i++) a[i] = f(a[i], b[i]);
        return new Vector<float>(a);
    }

    static Vector<float> Lanes(Vector<float> x, Vector<float> y, Vector<float> z, Func<float, float, float, float> f)
    {
        Span<float> a = stackalloc float[Vector<float>.Count];
        Span<float> b = stackalloc float[Vector<float>.Count];
        Span<float> c = stackalloc float[Vector<float>.Count];
        x.CopyTo(a);
        y.CopyTo(b);
        z.CopyTo(c);
        for (int i = 0; i < a.Length; i++) a[i] = f(a[i], b[i], c[i]);
        return new Vector<float>(a);
    }
}
