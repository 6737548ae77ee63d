using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// RMSprop (Hinton, 2012), optionally centered (Graves, 2013) and with momentum, as <c>torch.optim.RMSprop</c>
/// defines it.
/// </summary>
[Optimizer]
public partial class RMSprop
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-2f;
    /// <summary>Smoothing constant of the squared-gradient average.</summary>
    [Hyper("[0, 1]")] float alpha = 0.99f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Momentum factor; 0 turns momentum off (and its buffer is not allocated).</summary>
    [Hyper("[0, inf)")] float momentum = 0f;
    /// <summary>Normalize by the estimated variance of the gradient instead of its second moment.</summary>
    [Hyper] bool centered = false;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>Average of squared gradients.</summary>
    [State] float squareAvg;
    /// <summary>Average of gradients (centered variant).</summary>
    [State(OnlyIf = nameof(centered))] float gradAvg;
    /// <summary>The momentum buffer.</summary>
    [State(OnlyIf = nameof(momentum))] float momentumBuffer;

    [Update]
    void Update(ref float p, float g)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        squareAvg = alpha * squareAvg + (1 - alpha) * g * g;
        float avg;
        if (centered)
        {
            gradAvg = alpha * gradAvg + (1 - alpha) * g;
            avg = MathF.Sqrt(squareAvg - gradAvg * gradAvg) + eps;
        }
        else
        {
            avg = MathF.Sqrt(squareAvg) + eps;
        }
        if (momentum > 0)
        {
            momentumBuffer = momentum * momentumBuffer + g / avg;
            p -= lr * momentumBuffer;
        }
        else
        {
            p -= lr * g / avg;
        }
    }
}
