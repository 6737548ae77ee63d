using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// NAdam: Adam with Nesterov momentum (Dozat, 2016) and its momentum-decay schedule, as <c>torch.optim.NAdam</c>
/// defines it (optionally with decoupled weight decay).
/// </summary>
[Optimizer]
public partial class NAdam
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 2e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay: an L2 penalty, or decoupled when <c>decoupledWeightDecay</c> is set.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Momentum decay psi of the schedule <c>mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi))</c>.</summary>
    [Hyper("[0, inf)")] float momentumDecay = 4e-3f;
    /// <summary>Decay weights as AdamW does instead of adding an L2 penalty to the gradient.</summary>
    [Hyper] bool decoupledWeightDecay = false;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Second-moment average.</summary>
    [State] float v;
    /// <summary>Product of the momentum coefficients so far.</summary>
    [ScalarState] float muProduct = 1f;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0)
        {
            if (decoupledWeightDecay) p *= 1 - lr * weightDecay;
            else g += weightDecay * p;
        }
        float mu = beta1 * (1 - 0.5f * MathF.Pow(0.96f, t * momentumDecay));
        float muNext = beta1 * (1 - 0.5f * MathF.Pow(0.96f, (t + 1) * momentumDecay));
        muProduct *= mu;
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float denom = MathF.Sqrt(v / (1 - MathF.Pow(beta2, t))) + eps;
        p -= lr * (1 - mu) / (1 - muProduct) * g / denom;
        p -= lr * muNext / (1 - muProduct * muNext) * m / denom;
    }
}
