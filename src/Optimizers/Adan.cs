using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adan, adaptive Nesterov momentum (Xie et al., 2022, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
/// Optimizing Deep Models", Algorithm 1, in the form of the authors' implementation): averages of the gradient,
/// of the gradient difference and of the squared Nesterov gradient, with a proximal weight decay.
/// </summary>
[Optimizer]
public partial class Adan
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the gradient average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.98f;
    /// <summary>Decay of the gradient-difference average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.92f;
    /// <summary>Decay of the squared Nesterov-gradient average.</summary>
    [Hyper("[0, 1)")] float beta3 = 0.99f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay, applied as a proximal step <c>p / (1 + lr * weightDecay)</c> unless <c>noProx</c>.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Decay weights as AdamW does (before the step) instead of the proximal step after it.</summary>
    [Hyper] bool noProx = false;

    /// <summary>Gradient average.</summary>
    [State] float m;
    /// <summary>Gradient-difference average.</summary>
    [State] float d;
    /// <summary>Average of the squared Nesterov gradient.</summary>
    [State] float n;
    /// <summary>The previous step's gradient; the first gradient at the start, so the first difference is zero.</summary>
    [State(Init = StateInit.FirstGradient)] float previousGrad;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float diff = g - previousGrad;
        m = beta1 * m + (1 - beta1) * g;
        d = beta2 * d + (1 - beta2) * diff;
        float nesterov = g + beta2 * diff;
        n = beta3 * n + (1 - beta3) * nesterov * nesterov;
        float denom = MathF.Sqrt(n) / MathF.Sqrt(1 - MathF.Pow(beta3, t)) + eps;
        if (noProx) p *= 1 - lr * weightDecay;
        p -= lr / (1 - MathF.Pow(beta1, t)) * m / denom;
        p -= lr * beta2 / (1 - MathF.Pow(beta2, t)) * d / denom;
        if (!noProx) p /= 1 + lr * weightDecay;
        previousGrad = g;
    }
}
