using System;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Portable;

/// <summary>
/// Elementwise operations the portable backend emits where TorchSharp has no single method with the same meaning
/// (a scalar on the left, a scalar arm of a select, NaN-propagating min/max against a scalar). Each follows the
/// scalar semantics of the update rule for one element.
/// </summary>
public static class TensorMath
{
    /// <summary>A 0-d tensor holding <paramref name="value"/>, typed and placed like <paramref name="like"/>; broadcasts.</summary>
    public static Tensor Scalar(double value, Tensor like) => torch.tensor(value, dtype: like.dtype, device: like.device);

    /// <summary><c>a - b</c> for a scalar <paramref name="a"/>.</summary>
    public static Tensor Sub(double a, Tensor b) => b.neg().add_(a);

    /// <summary><c>a / b</c> for a scalar <paramref name="a"/>, rounded once as the scalar rule is.</summary>
    public static Tensor Div(double a, Tensor b) => Scalar(a, b).div(b);

    /// <summary><c>a ^ b</c> for a scalar base.</summary>
    public static Tensor Pow(double a, Tensor b) => Scalar(a, b).pow(b);

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

    /// <summary>Promotes a scalar to a 0-d tensor where a tensor is needed.</summary>
    public static Tensor AsTensor(double value, Tensor like) => Scalar(value, like);

    /// <summary><c>x</c> limited to [<paramref name="min"/>, <paramref name="max"/>], as <c>OptMath.Clamp</c>.</summary>
    public static Tensor Clamp(Tensor x, double min, double max) => Min(Max(x, min), max);

    /// <inheritdoc cref="Clamp(Tensor, double, double)"/>
    public static Tensor Clamp(Tensor x, Tensor min, Tensor max) => Min(Max(x, min), max);

    /// <summary>The logistic function.</summary>
    public static Tensor Sigmoid(Tensor x) => torch.sigmoid(x);

    /// <summary><c>a + w * (b - a)</c>.</summary>
    public static Tensor Lerp(Tensor a, Tensor b, Tensor w) => b.sub(a).mul_(w).add_(a);

    /// <summary><c>a + w * (b - a)</c> with a scalar weight.</summary>
    public static Tensor Lerp(Tensor a, Tensor b, double w) => b.sub(a).mul_(w).add_(a);
}
