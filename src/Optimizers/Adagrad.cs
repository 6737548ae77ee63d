using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adagrad (Duchi et al., 2011) with learning-rate decay and L2 weight decay, as <c>torch.optim.Adagrad</c> defines it.
/// </summary>
[Optimizer]
public partial class Adagrad
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-2f;
    /// <summary>The step size is <c>lr / (1 + (t - 1) * lrDecay)</c>.</summary>
    [Hyper("[0, inf)")] float lrDecay = 0f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>The value the sum of squared gradients starts at.</summary>
    [Hyper("[0, inf)")] float initialAccumulatorValue = 0f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-10f;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>Sum of squared gradients.</summary>
    [State(InitFrom = nameof(initialAccumulatorValue))] float sum;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        sum = sum + g * g;
        p -= lr / (1 + (t - 1) * lrDecay) * g / (MathF.Sqrt(sum) + eps);
    }
}
