using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, as
/// <c>torch.optim.SGD</c> defines them (the momentum buffer starts as the first gradient).
/// </summary>
[Optimizer]
public partial class SGD
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Momentum factor; 0 turns momentum off (and its buffer is not allocated).</summary>
    [Hyper("[0, inf)")] float momentum = 0f;
    /// <summary>Dampening of the gradient's contribution to momentum.</summary>
    [Hyper("[0, 1]")] float dampening = 0f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Use Nesterov momentum.</summary>
    [Hyper] bool nesterov = false;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>The momentum buffer.</summary>
    [State(OnlyIf = nameof(momentum))] float momentumBuffer;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (maximize) g = -g;
        if (weightDecay != 0) g += weightDecay * p;
        if (momentum != 0)
        {
            if (t == 1) momentumBuffer = g;
            else momentumBuffer = momentum * momentumBuffer + (1 - dampening) * g;
            if (nesterov) g += momentum * momentumBuffer;
            else g = momentumBuffer;
        }
        p -= lr * g;
    }
}
