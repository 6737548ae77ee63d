using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adam-atan2 (Everett et al., 2024, "Scaling Exponents Across Parameterizations and Optimizers"): Adam's bias-corrected
/// moments, with the step <c>a·atan2(m̂, b·√v̂)</c> in place of <c>m̂ / (√v̂ + ε)</c>. There is no ε to tune, the step
/// is bounded by a·π/2 and does not change when the gradient is scaled, and a zero second moment gives a zero step.
/// By default a = 1.27 (about 4/π, so that a step where m̂ = √v̂ matches Adam's 1) and b = 1; both are options, as the
/// paper leaves them to the user. The weight decay is decoupled, as in AdamW.
/// </summary>
[Optimizer]
public partial class AdamAtan2
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>The first moment's decay.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>The second moment's decay.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>The step's scale a.</summary>
    [Hyper("(0, inf)")] float a = 1.27f;
    /// <summary>The second moment's scale b inside atan2.</summary>
    [Hyper("(0, inf)")] float b = 1f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>The first moment.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        m = OptMath.Lerp(m, g, 1 - beta1);
        v = OptMath.Lerp(v, g * g, 1 - beta2);
        float mHat = m / (1 - MathF.Pow(beta1, t));
        float vHat = v / (1 - MathF.Pow(beta2, t));
        p *= 1 - lr * weightDecay;
        p -= lr * a * MathF.Atan2(mHat, b * MathF.Sqrt(vHat));
    }
}
