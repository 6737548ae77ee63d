using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020), as <c>torch.optim.RAdam</c> defines it
/// (optionally with decoupled weight decay). Unlike TorchSharp 0.107's built-in RAdam, the learning rate is applied
/// once in the rectified branch.
/// </summary>
[Optimizer]
public partial class RAdam
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the first-moment average.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay: an L2 penalty, or decoupled when <c>decoupledWeightDecay</c> is set.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Decay weights as AdamW does instead of adding an L2 penalty to the gradient.</summary>
    [Hyper] bool decoupledWeightDecay = false;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>First-moment average.</summary>
    [State] float m;
    /// <summary>Second-moment average.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0)
        {
            if (decoupledWeightDecay) p *= 1 - lr * weightDecay;
            else g += weightDecay * p;
        }
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        float mHat = m / (1 - MathF.Pow(beta1, t));
        float bc2 = 1 - MathF.Pow(beta2, t);
        // Length of the approximated simple moving average (Liu et al., 2020, Algorithm 2).
        float rhoInf = 2 / (1 - beta2) - 1;
        float rho = rhoInf - 2 * t * MathF.Pow(beta2, t) / bc2;
        if (rho > 5)
        {
            float rect = MathF.Sqrt((rho - 4) * (rho - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rho));
            float adaptive = MathF.Sqrt(bc2) / (MathF.Sqrt(v) + eps);
            p -= mHat * lr * adaptive * rect;
        }
        else
        {
            p -= mHat * lr;
        }
    }
}
