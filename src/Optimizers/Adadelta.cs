using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>Adadelta (Zeiler, 2012), as <c>torch.optim.Adadelta</c> defines it.</summary>
[Optimizer]
public partial class Adadelta
{
    /// <summary>Scale of the computed step.</summary>
    [Hyper("[0, inf)")] float lr = 1f;
    /// <summary>Decay of both running averages.</summary>
    [Hyper("[0, 1]")] float rho = 0.9f;
    /// <summary>Added inside both square roots for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-6f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>Average of squared gradients.</summary>
    [State] float squareAvg;
    /// <summary>Average of squared steps.</summary>
    [State] float accDelta;

    [Update]
    void Update(ref float p, float g)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        squareAvg = rho * squareAvg + (1 - rho) * g * g;
        float delta = MathF.Sqrt(accDelta + eps) / MathF.Sqrt(squareAvg + eps) * g;
        accDelta = rho * accDelta + (1 - rho) * delta * delta;
        p -= lr * delta;
    }
}
