using System;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// Elementwise operations the portable backend emits where TorchSharp has no single method with the same meaning
/// (a scalar on the left, a scalar arm of a select, NaN-propagating min/max against a scalar). Each follows the
/// scalar semantics of the update rule for one element.
/// </summary>
public static class TensorMath
{
    /// <summary>A 0-d tensor holding <paramref name="value"/>, typed and placed like <paramref name="like"/>; broadcasts.</summary>
    /// <remarks>Filled on the device: <c>torch.tensor</c> would copy from the host and wait for the device each time.</remarks>
    public static Tensor Scalar(double value, Tensor like)
    {
        using var kept = value.ToScalar();
        return torch.full(Array.Empty<long>(), kept, dtype: like.dtype, device: like.device);
    }

    /// <summary><c>a - b</c> for a scalar <paramref name="a"/>.</summary>
    public static Tensor Sub(double a, Tensor b)
    {
        using var kept = a.ToScalar();
        return b.neg().add_(kept, ScalarCalls.One);
    }

    /// <summary><c>a / b</c> for a scalar <paramref name="a"/>, rounded once as the scalar rule is.</summary>
    public static Tensor Div(double a, Tensor b) => Scalar(a, b).div(b);

    /// <summary><c>a ^ b</c> for a scalar base.</summary>
    public static Tensor Pow(double a, Tensor b) => Scalar(a, b).pow(b);

    /// <summary><c>atan2(y, x)</c> elementwise, as <see cref="MathF.Atan2(float, float)"/>.</summary>
    public static Tensor Atan2(Tensor y, Tensor x) => torch.atan2(y, x);

    /// <inheritdoc cref="Atan2(Tensor, Tensor)"/>
    public static Tensor Atan2(Tensor y, double x) => torch.atan2(y, Scalar(x, y));

    /// <inheritdoc cref="Atan2(Tensor, Tensor)"/>
    public static Tensor Atan2(double y, Tensor x) => torch.atan2(Scalar(y, x), x);

    /// <summary><c>min(a, b)</c>; NaN in either gives NaN, as <see cref="MathF.Min(float, float)"/>.</summary>
    public static Tensor Min(Tensor a, Tensor b) => torch.minimum(a, b);

    /// <inheritdoc cref="Min(Tensor, Tensor)"/>
    public static Tensor Min(Tensor a, double b) => torch.minimum(a, Scalar(b, a));

    /// <inheritdoc cref="Min(Tensor, Tensor)"/>
    public static Tensor Min(double a, Tensor b) => torch.minimum(Scalar(a, b), b);

    /// <summary><c>max(a, b)</c>; NaN in either gives NaN, as <see cref="MathF.Max(float, float)"/>.</summary>
    public static Tensor Max(Tensor a, Tensor b) => torch.maximum(a, b);

    /// <inheritdoc cref="Max(Tensor, Tensor)"/>
    public static Tensor Max(Tensor a, double b) => torch.maximum(a, Scalar(b, a));

    /// <inheritdoc cref="Max(Tensor, Tensor)"/>
    public static Tensor Max(double a, Tensor b) => torch.maximum(Scalar(a, b), b);

    /// <summary><c>condition ? a : b</c> elementwise.</summary>
    public static Tensor Select(Tensor condition, Tensor a, Tensor b) => torch.where(condition, a, b);

    /// <inheritdoc cref="Select(Tensor, Tensor, Tensor)"/>
    public static Tensor Select(Tensor condition, Tensor a, double b) => torch.where(condition, a, Scalar(b, a));

    /// <inheritdoc cref="Select(Tensor, Tensor, Tensor)"/>
    public static Tensor Select(Tensor condition, double a, Tensor b) => torch.where(condition, Scalar(a, b), b);

    /// <inheritdoc cref="Select(Tensor, Tensor, Tensor)"/>
    public static Tensor Select(Tensor condition, Tensor a, bool b) => torch.where(condition, a, AsTensor(b, a));

    /// <inheritdoc cref="Select(Tensor, Tensor, Tensor)"/>
    public static Tensor Select(Tensor condition, bool a, Tensor b) => torch.where(condition, AsTensor(a, b), b);

    /// <summary>Promotes a scalar to a 0-d tensor where a tensor is needed.</summary>
    public static Tensor AsTensor(double value, Tensor like) => Scalar(value, like);

    /// <summary>Promotes a condition the same for every element (a flag, <c>t == 1</c>) to a 0-d bool tensor on <paramref name="like"/>'s device.</summary>
    public static Tensor AsTensor(bool value, Tensor like) => torch.tensor(value, device: like.device);

    /// <summary>A per-element condition and a host one: <paramref name="a"/> where <paramref name="b"/> holds, else all false.</summary>
    public static Tensor And(Tensor a, bool b) => b ? a : torch.zeros_like(a, dtype: ScalarType.Bool);

    /// <summary>A per-element condition or a host one: all true where <paramref name="b"/> holds, else <paramref name="a"/>.</summary>
    public static Tensor Or(Tensor a, bool b) => b ? torch.ones_like(a, dtype: ScalarType.Bool) : a;

    /// <summary><c>x</c> limited to [<paramref name="min"/>, <paramref name="max"/>], as <c>OptMath.Clamp</c>.</summary>
    public static Tensor Clamp(Tensor x, double min, double max) => Min(Max(x, min), max);

    /// <inheritdoc cref="Clamp(Tensor, double, double)"/>
    public static Tensor Clamp(Tensor x, Tensor min, Tensor max) => Min(Max(x, min), max);

    /// <summary>The logistic function.</summary>
    public static Tensor Sigmoid(Tensor x) => torch.sigmoid(x);

    /// <summary><c>a + w * (b - a)</c>. Not in place on <c>b - a</c>: <paramref name="w"/> may have more elements (the ends 0-d, the weight per element).</summary>
    public static Tensor Lerp(Tensor a, Tensor b, Tensor w) => b.sub(a).mul(w).Plus_(a);

    /// <summary><paramref name="x"/> = <c>x + w * (end - x)</c> in place, the weight in <paramref name="x"/>'s type.</summary>
    public static void LerpInPlace(Tensor x, Tensor end, double w)
    {
        using var weight = Scalar(w, x);
        x.lerp_(end, weight);
    }

    /// <inheritdoc cref="LerpInPlace(Tensor, Tensor, double)"/>
    public static void LerpInPlace(Tensor x, Tensor end, Tensor w) => x.lerp_(end, w);

    /// <summary><c>a + w * (b - a)</c> with a scalar weight, in one pass (PyTorch's lerp, exact at both ends).</summary>
    public static Tensor Lerp(Tensor a, Tensor b, double w)
    {
        if (a.dtype == b.dtype && a.shape.AsSpan().SequenceEqual(b.shape))
        {
            // The weight in the ends' type: a double converted to a tensor would be a 0-d float64 tensor, which makes
            // the result float64 where the ends are 0-d too (reduction results). (TorchSharp's lerp with a Scalar
            // weight throws.)
            using var weight = Scalar(w, a);
            return a.lerp(b, weight);
        }
        using var kept = w.ToScalar();
        return b.sub(a).mul_(kept).Plus_(a);
    }

    // Reductions over the whole tensor (OptDsl.Reduce), as 0-d tensors on the tensor's device. The value is expanded to
    // the parameter's shape first, so a value that is uniform (a 0-d tensor) counts once per element.

    static Tensor Full(Tensor x, Tensor like) => x.shape.AsSpan().SequenceEqual(like.shape) ? x : x.expand_as(like);

    /// <summary>The sum over all elements; 0 for an empty tensor.</summary>
    public static Tensor ReduceSum(Tensor x, Tensor like) => Full(x, like).sum();

    /// <summary>The mean over all elements; NaN for an empty tensor.</summary>
    public static Tensor ReduceMean(Tensor x, Tensor like) => Full(x, like).mean();

    /// <summary>The largest element; -infinity for an empty tensor.</summary>
    public static Tensor ReduceMax(Tensor x, Tensor like) =>
        like.NumberOfElements == 0 ? Scalar(double.NegativeInfinity, x) : Full(x, like).max();

    /// <summary>The smallest element; +infinity for an empty tensor.</summary>
    public static Tensor ReduceMin(Tensor x, Tensor like) =>
        like.NumberOfElements == 0 ? Scalar(double.PositiveInfinity, x) : Full(x, like).min();

    /// <summary>The largest absolute value; 0 for an empty tensor.</summary>
    public static Tensor ReduceMaxAbs(Tensor x, Tensor like) =>
        like.NumberOfElements == 0 ? Scalar(0, x) : Full(x, like).abs().max();

    /// <summary>The L2 norm.</summary>
    public static Tensor ReduceNorm(Tensor x, Tensor like) => Norms.Vector(Full(x, like));

    /// <summary>
    /// The unbiased variance (divided by n - 1, as <c>torch.var</c>); NaN for fewer than two elements (without libtorch's
    /// warning at every step).
    /// </summary>
    public static Tensor ReduceVar(Tensor x, Tensor like) =>
        like.NumberOfElements < 2 ? Scalar(double.NaN, x) : Full(x, like).var();

    /// <summary>The unbiased standard deviation (as <c>torch.std</c>); NaN for fewer than two elements.</summary>
    public static Tensor ReduceStd(Tensor x, Tensor like) =>
        like.NumberOfElements < 2 ? Scalar(double.NaN, x) : Full(x, like).std();

    /// <summary>The root mean square; NaN for an empty tensor.</summary>
    public static Tensor ReduceRms(Tensor x, Tensor like) => Full(x, like).Squared().mean().sqrt();
}
