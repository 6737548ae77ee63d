using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Prodigy (Mishchenko and Defazio, 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner"): Adam whose
/// step size d is estimated as it trains, from how far the weights have moved along the gradients,
/// <c>d̂ = dCoef · Σ_k (d_k²/d0) ⟨g_k, x0 − x_k⟩ / ‖Σ_k (d_k²/d0) g_k‖₁</c> with both sums kept as β3-EMAs, and
/// <c>d = max(d, d̂)</c> (growth limited by <c>growthRate</c>). <c>lr</c> multiplies d (leave it at 1). The sums run
/// over every parameter the optimizer steps, as the authors' implementation does; its step order (moments with the
/// previous d, the denominator's eps scaled by the new one) and options (bias correction, safeguard warmup, decoupled or
/// coupled weight decay) are followed. Four states per element (two moments, the sum s, the initial weights).
/// Groups may set their own lr, which then scales their share of the estimate (the authors' implementation refuses
/// different values). It runs on the portable path, reading d and its sums on the host once per tensor and step, as
/// the authors' implementation does.
/// </summary>
[Optimizer]
public partial class Prodigy
{
    /// <summary>A multiplier of the estimated step size (1: as published).</summary>
    [Hyper("(0, inf)")] float lr = 1f;
    /// <summary>Decay of the first moment.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second moment.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Decay of the step-size sums; 0 means √beta2 (the authors' default).</summary>
    [Hyper("[0, 1)")] float beta3 = 0f;
    /// <summary>Added to the root of the second moment, scaled by d.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay: decoupled (AdamW's) unless <c>decouple</c> is false, then added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>AdamW-style decoupled weight decay.</summary>
    [Hyper] bool decouple = true;
    /// <summary>Adam's bias correction in the step size.</summary>
    [Hyper] bool useBiasCorrection = false;
    /// <summary>Leaves lr out of the sum s, against a too small d during a warmup.</summary>
    [Hyper] bool safeguardWarmup = false;
    /// <summary>The initial step size estimate.</summary>
    [Hyper("(0, inf)")] float d0 = 1e-6f;
    /// <summary>Scales the estimate d̂ (the preferred knob, 0.5 to 2).</summary>
    [Hyper("(0, inf)")] float dCoef = 1f;
    /// <summary>The most d may grow in one step, as a factor (unlimited by default; 1.02 acts as a warmup).</summary>
    [Hyper("[1, inf)")] double growthRate = float.MaxValue; // not double.MaxValue: float32 makes that infinity, which is refused

    /// <summary>First moment (scaled by d).</summary>
    [State] float m;
    /// <summary>Second moment (scaled by d²).</summary>
    [State] float v;
    /// <summary>The EMA of (d/d0)·dlr-weighted gradients, whose L1 norm is the estimate's denominator.</summary>
    [State] float s;
    /// <summary>The initial weights.</summary>
    [State(Init = StateInit.Parameter)] float x0;
    /// <summary>The step size estimate d.</summary>
    [ScalarState] double d = 0;
    /// <summary>The largest estimate so far.</summary>
    [ScalarState] double dMax = 0;
    /// <summary>The EMA of (d/d0)·dlr·⟨g, x0 − x⟩, the estimate's numerator.</summary>
    [ScalarState] double dNumerator = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        double dPrev = t == 1 ? d0 : d;
        double dMaxPrev = t == 1 ? d0 : dMax;
        float b3 = beta3 > 0 ? beta3 : MathF.Sqrt(beta2);
        float correction = useBiasCorrection ? MathF.Sqrt(1 - MathF.Pow(beta2, t)) / (1 - MathF.Pow(beta1, t)) : 1f;
        float dlr = (float)dPrev * lr * correction;
        if (!decouple) g += weightDecay * p;

        float scale = (float)(dPrev / d0);
        dNumerator = b3 * dNumerator + scale * dlr * Reduce.GlobalSum(g * (x0 - p));
        m = beta1 * m + (float)dPrev * (1 - beta1) * g;
        v = beta2 * v + (float)(dPrev * dPrev) * (1 - beta2) * g * g;
        s = b3 * s + scale * (safeguardWarmup ? (float)dPrev : dlr) * g;
        double denominator = Reduce.GlobalSum(MathF.Abs(s));

        // All gradients zero so far: no estimate, and the authors' step returns before the update.
        double dHat = denominator > 0 ? dCoef * dNumerator / denominator : dPrev;
        double dGrown = dPrev == d0 ? Math.Max(dPrev, dHat) : dPrev;
        dMax = Math.Max(dMaxPrev, dHat);
        d = Math.Min(dMax, dGrown * growthRate);
        if (denominator > 0)
        {
            if (decouple) p -= weightDecay * dlr * p;
            p -= dlr * m / (MathF.Sqrt(v) + (float)d * eps);
        }
    }
}
