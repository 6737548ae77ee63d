using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// SPAM, spike-aware Adam with momentum reset (Huang et al., 2025, "SPAM: Spike-Aware Adam with Momentum Reset for
/// Stable LLM Training"), as the authors' SPAM.py runs it on dense parameters (its <c>density</c> masks, sparse
/// momentum, are left out). Three changes to AdamW:
/// <list type="bullet">
/// <item>spike clipping: an element whose <c>g²</c> exceeds <c>threshold·v</c> (v before this step's update) is
/// replaced by <c>sign(g)·√(threshold·v)</c>; as the authors', only once <c>clipDelay</c> steps have passed since the
/// start or the last reset (their <c>grad_accu_steps</c>), and never with <c>threshold</c> 0;</item>
/// <item>momentum reset: at every step t that is a multiple of <c>deltaT</c> both moments start again from zero (the bias
/// corrections keep counting t, as theirs do);</item>
/// <item>after each reset the step is scaled by <c>1 − 0.99·(1 + cos(π·j/(warmupSteps + 1)))/2</c> for the reset's
/// j-th step, j = 0 … warmupSteps − 1 (their <c>CosineDecay(0.99, warmup_steps)</c>): 0.01 at the reset, rising to 1.
/// There is no such warmup before the first reset.</item>
/// </list>
/// Otherwise Adam with ε outside the bias correction (<c>lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε)</c>) and weight decay
/// taken after the step, <c>p ← p − lr·weightDecay·p</c>. The authors count steps over the whole optimizer; here t is
/// each parameter's own count, the same when every parameter has a gradient every step.
/// </summary>
[Optimizer]
public partial class Spam
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>The first moment's decay.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>The second moment's decay.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the second moment's root (the authors' 1e-6).</summary>
    [Hyper("(0, inf)")] float eps = 1e-6f;
    /// <summary>Decoupled weight decay, taken after the step.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>A gradient element is a spike where g² exceeds this many times v; 0 turns spike clipping off.</summary>
    [Hyper("[0, inf)")] float threshold = 5000f;
    /// <summary>The moments are reset at every multiple of this many steps.</summary>
    [Hyper("[2, inf)")] int deltaT = 500;
    /// <summary>The steps of cosine warmup after each reset.</summary>
    [Hyper("[0, inf)")] int warmupSteps = 150;
    /// <summary>Steps after the start and after each reset before spikes are clipped (v is too young to judge before).</summary>
    [Hyper("[0, inf)")] int clipDelay = 20;

    /// <summary>The first moment.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        int sinceReset = t % deltaT;
        if (sinceReset == 0)
        {
            m = 0;
            v = 0;
        }
        if (threshold > 0 && sinceReset >= clipDelay)
        {
            float limit = threshold * v;
            if (g * g > limit) g = OptMath.Sign(g) * MathF.Sqrt(limit);
        }
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float warmup = t >= deltaT && sinceReset < warmupSteps
            ? 1 - 0.99f * (1 + (float)Math.Cos(Math.PI * sinceReset / (warmupSteps + 1))) / 2
            : 1f;
        float stepSize = lr * MathF.Sqrt(1 - MathF.Pow(beta2, t)) / (1 - MathF.Pow(beta1, t));
        p -= stepSize * warmup * m / (MathF.Sqrt(v) + eps);
        p -= lr * weightDecay * p;
    }
}
