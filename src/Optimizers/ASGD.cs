using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Averaged SGD (Polyak and Juditsky, 1992, "Acceleration of stochastic approximation by averaging"), as
/// <c>torch.optim.ASGD</c> defines it: SGD whose step size decays as <c>lr / (1 + lambd·lr·(t − 1))^alpha</c>, with the
/// parameter shrunk by <c>1 − lambd·eta</c> each step, and a running average of the iterates in state <c>ax</c> (a plain
/// copy until step <c>t0</c>, the mean of the iterates since then). The average is state for evaluation; the update
/// does not read it.
/// </summary>
[Optimizer]
public partial class ASGD
{
    /// <summary>The learning rate at the first step.</summary>
    [Hyper("[0, inf)")] float lr = 1e-2f;
    /// <summary>The decay term.</summary>
    [Hyper("[0, inf)")] float lambd = 1e-4f;
    /// <summary>The power of the step size's decay.</summary>
    [Hyper("[0, inf)")] float alpha = 0.75f;
    /// <summary>The step after which the average starts.</summary>
    [Hyper("[0, inf)")] float t0 = 1e6f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>The average of the iterates.</summary>
    [State] float ax;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float d = (maximize ? -g : g) + weightDecay * p;
        // PyTorch computes eta and mu after each step for the next one: at step t they are these.
        float eta = lr / MathF.Pow(1 + lambd * lr * (t - 1), alpha);
        float mu = 1f / MathF.Max(1f, t - 1 - t0);
        p *= 1 - lambd * eta;
        p -= eta * d;
        ax = mu != 1 ? ax + (p - ax) * mu : p;
    }
}
