using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adamax, the infinity-norm variant of Adam (Kingma &amp; Ba, 2015, section 7), as <c>torch.optim.Adamax</c> defines it.
/// </summary>
[Optimizer]
public partial class Adamax
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 2e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the infinity norm.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the infinity norm for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Exponentially weighted infinity norm.</summary>
    [State] float u;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        m = beta1 * m + (1 - beta1) * g;
        u = MathF.Max(beta2 * u, MathF.Abs(g) + eps);
        p -= lr / (1 - MathF.Pow(beta1, t)) * m / u;
    }
}
