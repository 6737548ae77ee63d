using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// MARS-Lion (Yuan et al., 2024, "MARS: Unleashing the Power of Variance Reduction for Training Large Models",
/// Algorithm 3, approximate form): the variance-reduced gradient <c>c = g + γ·β₁/(1 − β₁)·(g − g_prev)</c> of
/// <see cref="MarsAdamW"/>, scaled to Euclidean norm at most <c>maxNorm</c> (1, per tensor), averaged into one momentum
/// <c>m ← β₁m + (1 − β₁)c</c>, and the sign step <c>p ← p − lr·(sign(m) + weightDecay·p)</c>. Unlike
/// <see cref="Lion"/> there is no second β interpolating the momentum with the gradient for the sign: the paper shows
/// Lion's two-β momentum to be this momentum with a particular γ (its Lemma 3.4), and both Algorithm 3 and the authors'
/// mars.py (<c>mars_type="mars-lion"</c>) take the sign of m itself. The defaults are the authors' code's, which it
/// shares with MARS-AdamW (lr 3e-3, β₁ 0.95, γ 0.025); their README asks for the learning rate to be tuned for this
/// variant, and a sign step usually wants a smaller one. The previous gradient starts at zero. The authors send vectors
/// to plain AdamW (their <c>optimize_1d</c> off); route them so with <c>Routing.Route</c>.
/// </summary>
[Optimizer]
public partial class MarsLion
{
    /// <summary>The learning rate: the size of every element's step.</summary>
    [Hyper("[0, inf)")] float lr = 3e-3f;
    /// <summary>The momentum's decay (the authors' default 0.95).</summary>
    [Hyper("[0, 1)")] float beta1 = 0.95f;
    /// <summary>The weight of the variance-reduction term.</summary>
    [Hyper("[0, inf)")] float gamma = 0.025f;
    /// <summary>The largest Euclidean norm of a tensor's corrected gradient.</summary>
    [Hyper("(0, inf)")] float maxNorm = 1f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>The momentum of the corrected gradient.</summary>
    [State] float m;
    /// <summary>The previous step's gradient.</summary>
    [State] float previous;

    [Update]
    void Update(ref float p, float g)
    {
        float c = g + gamma * (beta1 / (1 - beta1)) * (g - previous);
        // A zero norm gives maxNorm / 0 = infinity, and the factor stays 1.
        c *= MathF.Min(1f, maxNorm / Reduce.Norm(c));
        m = beta1 * m + (1 - beta1) * c;
        p -= lr * (OptMath.Sign(m) + weightDecay * p);
        previous = g;
    }
}
