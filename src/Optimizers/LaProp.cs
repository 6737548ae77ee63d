using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// LaProp (Ziyin, Wang &amp; Ueda, 2020, "LaProp: Separating Momentum and Adaptivity in Adam"): each gradient is
/// divided by the root of its bias-corrected second moment first, <c>n = g / (√(v/c₂) + ε)</c>, and the momentum is
/// taken of that normalised gradient, so momentum and adaptivity no longer interact as they do in Adam. Where the paper
/// leaves a choice this follows the authors' laprop.py: the learning rate enters the momentum
/// (<c>m ← β₁m + (1 − β₁)·lr·n</c>), and the first bias correction is the β₁-average of the learning rates so far, so
/// the step <c>p ← p − lr·m/ℓ</c> (ℓ that average) stays corrected when the learning rate follows a schedule; the
/// second correction <c>c₂</c> is the β₂-average of ones (1 − β₂ᵗ while β₂ is constant). With a constant learning
/// rate this is <c>p ← p − lr·m̂</c>, m̂ Adam's bias-corrected moment of n. Weight decay is the authors': after the
/// step, <c>p ← p − weightDecay·p</c>, not scaled by the learning rate (their README: schedule it with the learning
/// rate). Their <c>amsgrad</c> and <c>centered</c> options are left out.
/// </summary>
[Optimizer]
public partial class LaProp
{
    /// <summary>The learning rate (the authors' default 4e-4).</summary>
    [Hyper("[0, inf)")] float lr = 4e-4f;
    /// <summary>Decay of the momentum of normalised gradients.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the squared-gradient average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the root of the second moment (the authors' 1e-15: the normalisation is rarely damped).</summary>
    [Hyper("(0, inf)")] float eps = 1e-15f;
    /// <summary>The fraction of each weight taken off after the step; not multiplied by the learning rate.</summary>
    [Hyper("[0, 1)")] float weightDecay = 0f;

    /// <summary>Momentum of the normalised gradient, the learning rate included.</summary>
    [State] float m;
    /// <summary>Average of squared gradients.</summary>
    [State] float v;
    /// <summary>The β₁-average of the learning rates so far: the first bias correction, times the learning rate.</summary>
    [ScalarState] double lrAverage = 0;
    /// <summary>The β₂-average of ones so far: the second bias correction.</summary>
    [ScalarState] double secondCorrection = 0;

    [Update]
    void Update(ref float p, float g)
    {
        lrAverage = beta1 * lrAverage + (1 - beta1) * lr;
        secondCorrection = beta2 * secondCorrection + (1 - beta2);
        // lr / lrAverage is 1 / (1 − β₁ᵗ) at a constant rate; at a zero rate the authors step by the momentum itself.
        float stepScale = lr != 0 ? (float)(lr / lrAverage) : 1f;
        v = beta2 * v + (1 - beta2) * g * g;
        m = beta1 * m + (1 - beta1) * lr * g / (MathF.Sqrt(v / (float)secondCorrection) + eps);
        p -= stepScale * m;
        p -= weightDecay * p;
    }
}
