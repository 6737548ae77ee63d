using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// diffGrad (Dubey et al., 2019, "diffGrad: An Optimization Method for Convolutional Neural Networks",
/// Algorithm 1): Adam whose step is scaled per element by the friction coefficient
/// <c>sigmoid(|g_(t-1) - g_t|)</c>, with the previous gradient starting at zero and an L2 penalty.
/// </summary>
[Optimizer]
public partial class DiffGrad
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Second-moment average.</summary>
    [State] float v;
    /// <summary>The previous step's gradient.</summary>
    [State] float previousGrad;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (weightDecay != 0) g += weightDecay * p;
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float friction = OptMath.Sigmoid(MathF.Abs(previousGrad - g));
        previousGrad = g;
        float mHat = m / (1 - MathF.Pow(beta1, t));
        float vHat = v / (1 - MathF.Pow(beta2, t));
        p -= lr * friction * mHat / (MathF.Sqrt(vHat) + eps);
    }
}
