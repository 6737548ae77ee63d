using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// MARS-AdamW (Yuan et al., 2024, "MARS: Unleashing the Power of Variance Reduction for Training Large Models"), the
/// approximate variant the authors' code runs by default: AdamW on the variance-reduced gradient
/// <c>c = g + γ·β₁/(1 − β₁)·(g − g_prev)</c>, scaled to Euclidean norm at most <c>maxNorm</c> (1, per tensor) before it
/// enters the moments. As the authors' update: the previous gradient starts at zero, both bias corrections sit in the
/// denominator (<c>(√v/√(1 − β₂ᵗ) + ε)(1 − β₁ᵗ)</c>), and the decoupled weight decay is taken in the same step. The
/// authors send vectors to plain AdamW (their <c>optimize_1d</c> off); route them so with <c>Routing.Route</c>.
/// </summary>
[Optimizer]
public partial class MarsAdamW
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 3e-3f;
    /// <summary>The first moment's decay (the authors' default 0.95).</summary>
    [Hyper("[0, 1)")] float beta1 = 0.95f;
    /// <summary>The second moment's decay.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.99f;
    /// <summary>Added to the denominator.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>The weight of the variance-reduction term.</summary>
    [Hyper("[0, inf)")] float gamma = 0.025f;
    /// <summary>The largest Euclidean norm of a tensor's corrected gradient.</summary>
    [Hyper("(0, inf)")] float maxNorm = 1f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>The first moment.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State] float v;
    /// <summary>The previous step's gradient.</summary>
    [State] float previous;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float c = g + gamma * (beta1 / (1 - beta1)) * (g - previous);
        // A zero norm gives maxNorm / 0 = infinity, and the factor stays 1.
        c *= MathF.Min(1f, maxNorm / Reduce.Norm(c));
        m = beta1 * m + (1 - beta1) * c;
        v = beta2 * v + (1 - beta2) * c * c;
        float denom = (MathF.Sqrt(v) / MathF.Sqrt(1 - MathF.Pow(beta2, t)) + eps) * (1 - MathF.Pow(beta1, t));
        p -= lr * (weightDecay * p + m / denom);
        previous = g;
    }
}
