using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Stable-SPAM (Huang et al., 2025, "Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam"), in the order of
/// the authors' stablespam.py. Each tensor's gradient passes two stages before AdamW:
/// <list type="bullet">
/// <item>AdaClip: an EMA (γ₃) of the gradient's largest magnitude, bias-corrected, is the spike threshold T̂; elements
/// with |g| &gt; T̂ become <c>g·T̂/max|g|</c>;</item>
/// <item>AdaGN: the clipped gradient's norm n feeds EMAs μ (γ₁) of n and ν (γ₂) of n², and the gradient is rescaled to
/// norm <c>μ̂/(√ν̂ + ε)</c> (when n &gt; 0).</item>
/// </list>
/// Momentum reset: at every multiple of <c>deltaT</c> (0: never) m and v restart from zero and the step count k that
/// every bias correction here uses restarts at 1, as the authors' <c>state['step'] = 1</c>; AdaClip and AdaGN have
/// already used k + 1 in that step, as theirs. Where this differs from the released code: there, the reset stores new
/// zero moments but the reset step itself still updates and uses the old ones (they were read into locals before), so
/// the zeros take effect one step later; here the moments are zero in the reset step, as the paper describes the reset.
/// Left out: their optional <c>total_T</c> cosine decay of β₁ and γ₁ (off by default there) and <c>amsgrad</c>. Weight
/// decay is decoupled, taken first. The statistics are per tensor, so the rule runs on the portable path.
/// </summary>
[Optimizer]
public partial class StableSpam
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>The first moment's decay.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>The second moment's decay.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the roots of the second moment and of the norm's second moment.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Decay of the gradient norm's average (AdaGN's γ₁).</summary>
    [Hyper("[0, 1)")] float gamma1 = 0.7f;
    /// <summary>Decay of the squared gradient norm's average (AdaGN's γ₂).</summary>
    [Hyper("[0, 1)")] float gamma2 = 0.9f;
    /// <summary>Decay of the largest magnitude's average, the spike threshold (AdaClip's γ₃).</summary>
    [Hyper("[0, 1)")] float gamma3 = 0.999f;
    /// <summary>The moments are reset at every multiple of this many steps; 0 never resets them.</summary>
    [Hyper("[0, inf)")] int deltaT = 1000;

    /// <summary>The first moment.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State] float v;
    /// <summary>Steps since the last reset, counting the reset step as 1: every bias correction's count.</summary>
    [ScalarState] double count = 0;
    /// <summary>The EMA of the gradient's largest magnitude.</summary>
    [ScalarState] double maxAverage = 0;
    /// <summary>The EMA of the clipped gradient's norm.</summary>
    [ScalarState] double normAverage = 0;
    /// <summary>The EMA of the clipped gradient's squared norm.</summary>
    [ScalarState] double squaredNormAverage = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        p *= 1 - lr * weightDecay;
        count += 1;
        float largest = Reduce.MaxAbs(g);
        maxAverage = gamma3 * maxAverage + (1 - gamma3) * largest;
        float limit = (float)(maxAverage / (1 - Math.Pow(gamma3, count)));
        if (MathF.Abs(g) > limit) g = g / largest * limit;
        float norm = Reduce.Norm(g);
        normAverage = gamma1 * normAverage + (1 - gamma1) * norm;
        squaredNormAverage = gamma2 * squaredNormAverage + (1 - gamma2) * norm * norm;
        float target = (float)(normAverage / (1 - Math.Pow(gamma1, count))
            / (Math.Sqrt(squaredNormAverage / (1 - Math.Pow(gamma2, count))) + eps));
        if (norm > 0) g = g / norm * target;
        if (deltaT > 0 && t % deltaT == 0)
        {
            count = 1;
            m = 0;
            v = 0;
        }
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float denom = (float)(MathF.Sqrt(v) / Math.Sqrt(1 - Math.Pow(beta2, count))) + eps;
        p -= (float)(lr / (1 - Math.Pow(beta1, count))) * m / denom;
    }
}
