using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Rprop (Riedmiller and Braun, 1993, "A direct adaptive method for faster backpropagation learning: the RPROP
/// algorithm"), as <c>torch.optim.Rprop</c> defines it: each element keeps its own step size, multiplied by
/// <c>etaPlus</c> while its gradient keeps its sign and by <c>etaMinus</c> when the sign flips (then that element does
/// not move, and its gradient counts as zero at the next step), within [<c>stepSizeMin</c>, <c>stepSizeMax</c>]; the
/// parameter moves by its step size against the gradient's sign. Full-batch training is what it was made for.
/// </summary>
[Optimizer]
public partial class Rprop
{
    /// <summary>The step size every element starts at (changing it later does not change the step sizes reached).</summary>
    [Hyper("[0, inf)")] float lr = 1e-2f;
    /// <summary>The step size's factor when the gradient's sign flips.</summary>
    [Hyper("(0, 1)")] float etaMinus = 0.5f;
    /// <summary>The step size's factor while the gradient's sign holds.</summary>
    [Hyper("(1, inf)")] float etaPlus = 1.2f;
    /// <summary>The smallest step size.</summary>
    [Hyper("[0, inf)")] float stepSizeMin = 1e-6f;
    /// <summary>The largest step size.</summary>
    [Hyper("[0, inf)")] float stepSizeMax = 50f;
    /// <summary>Maximize the objective instead of minimizing it.</summary>
    [Hyper] bool maximize = false;

    /// <summary>The gradient of the last step (zero where its sign had flipped).</summary>
    [State] float previous;
    /// <summary>Each element's step size.</summary>
    [State(InitFrom = nameof(lr))] float stepSize;

    [Update]
    void Update(ref float p, float g)
    {
        float d = maximize ? -g : g;
        float agreement = d * previous;
        stepSize = OptMath.Clamp(stepSize * (agreement > 0 ? etaPlus : agreement < 0 ? etaMinus : 1f), stepSizeMin, stepSizeMax);
        float kept = agreement < 0 ? 0f : d;
        p -= OptMath.Sign(kept) * stepSize;
        previous = kept;
    }
}
