using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// AdEMAMix (Pagliardini, Ablin &amp; Grangier, 2024, "The AdEMAMix Optimizer: Better, Faster, Older", Algorithm 1):
/// Adam plus a slow, unbiased-free EMA of gradients weighted by <c>alpha</c>, with the paper's warmup schedules of
/// <c>alpha</c> (linear) and <c>beta3</c> (linear in half-life) over <c>warmup</c> steps, and decoupled weight decay.
/// </summary>
[Optimizer]
public partial class AdEMAMix
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the fast first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Decay of the slow first-moment average, reached after the warmup.</summary>
    [Hyper("[0, 1)")] float beta3 = 0.9999f;
    /// <summary>Weight of the slow average, reached after the warmup.</summary>
    [Hyper("[0, inf)")] float alpha = 2f;
    /// <summary>Steps over which alpha and beta3 warm up (T_alpha = T_beta3 in the paper); 0 for none.</summary>
    [Hyper("[0, inf)")] int warmup = 0;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>Fast first-moment average.</summary>
    [State] float m1;
    /// <summary>Slow first-moment average.</summary>
    [State] float m2;
    /// <summary>Second-moment average.</summary>
    [State] float nu;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float alphaT = alpha;
        float beta3T = beta3;
        if (warmup > 0)
        {
            float progress = MathF.Min((float)t / warmup, 1f);
            alphaT = progress * alpha;
            float logBeta1 = MathF.Log(beta1);
            float logBeta3 = MathF.Log(beta3);
            beta3T = MathF.Min(MathF.Exp(logBeta1 * logBeta3 / ((1 - progress) * logBeta3 + progress * logBeta1)), beta3);
        }
        m1 = beta1 * m1 + (1 - beta1) * g;
        m2 = beta3T * m2 + (1 - beta3T) * g;
        nu = beta2 * nu + (1 - beta2) * g * g;
        float m1Hat = m1 / (1 - MathF.Pow(beta1, t));
        float nuHat = nu / (1 - MathF.Pow(beta2, t));
        p -= lr * ((m1Hat + alphaT * m2) / (MathF.Sqrt(nuHat) + eps) + weightDecay * p);
    }
}
