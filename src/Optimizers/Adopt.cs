using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// ADOPT (Taniguchi et al., 2024, "ADOPT: Modified Adam Can Converge with Any β₂ with the Optimal Rate"), with the
/// clipping the authors ship: the gradient is normalised by the second moment of the steps before it,
/// <c>g / max(√v, ε)</c>, clipped to ±(t − 1)^¼ (the authors' default clip), and only then enters the momentum, which
/// is the step; v takes g² afterwards. The first step only sets v = g² and does not move the parameter. Weight decay is
/// an L2 term on the gradient, or decoupled (<c>decouple</c>: p ← p(1 − lr·weightDecay)), as the authors' code offers.
/// </summary>
[Optimizer]
public partial class Adopt
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>The momentum's decay.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>The second moment's decay (ADOPT converges for any; the authors' default is 0.9999).</summary>
    [Hyper("[0, 1)")] float beta2 = 0.9999f;
    /// <summary>The floor of the second moment's root.</summary>
    [Hyper("(0, inf)")] float eps = 1e-6f;
    /// <summary>Weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Decoupled weight decay (AdamW's) instead of an L2 term on the gradient.</summary>
    [Hyper] bool decouple = false;
    /// <summary>Clip the normalised gradient to ±(t − 1)^¼ (the authors' default); off, it is not clipped.</summary>
    [Hyper] bool clip = true;

    /// <summary>The momentum of the normalised gradient.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float d = decouple ? g : g + weightDecay * p;
        if (t == 1)
        {
            v = d * d;
        }
        else
        {
            if (decouple) p *= 1 - lr * weightDecay;
            float normalized = d / MathF.Max(MathF.Sqrt(v), eps);
            float bound = MathF.Pow(t - 1, 0.25f);
            if (clip) normalized = OptMath.Clamp(normalized, -bound, bound);
            m = OptMath.Lerp(m, normalized, 1 - beta1);
            p -= lr * m;
            v = beta2 * v + (1 - beta2) * d * d;
        }
    }
}
