using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba, 2015) with optional AMSGrad (Reddi et al., 2018) and L2 weight decay, as
/// <c>torch.optim.Adam</c> defines them.
/// </summary>
[Optimizer]
public partial class Adam
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Use the maximum of past second moments (AMSGrad).</summary>
    [Hyper] bool amsgrad = false;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Second-moment average.</summary>
    [State] float v;
    /// <summary>Largest second moment so far (AMSGrad).</summary>
    [State(OnlyIf = nameof(amsgrad))] float vMax;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float secondMoment = v;
        if (amsgrad)
        {
            vMax = MathF.Max(vMax, v);
            secondMoment = vMax;
        }
        float denom = MathF.Sqrt(secondMoment) / MathF.Sqrt(1 - MathF.Pow(beta2, t)) + eps;
        p -= lr / (1 - MathF.Pow(beta1, t)) * m / denom;
    }
}
