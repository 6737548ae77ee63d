using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// AdaBelief (Zhuang et al., 2020, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients",
/// Algorithm 2): Adam whose second moment tracks the squared deviation of the gradient from its prediction,
/// <c>s = beta2 * s + (1 - beta2) * (g - m)^2 + eps</c>; decoupled weight decay by default.
/// </summary>
[Optimizer]
public partial class AdaBelief
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the belief (variance) average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the belief each step and to the denominator.</summary>
    [Hyper("(0, inf)")] float eps = 1e-16f;
    /// <summary>Weight decay: decoupled when <c>weightDecouple</c> is set, else an L2 penalty.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Decay weights as AdamW does instead of adding an L2 penalty to the gradient.</summary>
    [Hyper] bool weightDecouple = true;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Average squared deviation of the gradient from the first moment.</summary>
    [State] float s;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (weightDecay != 0)
        {
            if (weightDecouple) p *= 1 - lr * weightDecay;
            else g += weightDecay * p;
        }
        m = beta1 * m + (1 - beta1) * g;
        float deviation = g - m;
        s = beta2 * s + (1 - beta2) * deviation * deviation + eps;
        float mHat = m / (1 - MathF.Pow(beta1, t));
        float sHat = s / (1 - MathF.Pow(beta2, t));
        p -= lr * mHat / (MathF.Sqrt(sHat) + eps);
    }
}
