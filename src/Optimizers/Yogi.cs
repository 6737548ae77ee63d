using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Yogi (Zaheer et al., 2018, "Adaptive Methods for Nonconvex Optimization", Algorithm 2): Adam whose second moment
/// moves additively, <c>v ← v − (1 − β₂)·sign(v − g²)·g²</c>, so it grows or shrinks by at most (1 − β₂)g² a step
/// instead of forgetting its past multiplicatively; no bias correction, as the algorithm states it. Where the paper
/// leaves a choice, this follows TensorFlow Addons' Yogi: v starts at <c>initialAccumulator</c> (1e-6), ε = 1e-3, and
/// the weight decay is an L2 term added to the gradient.
/// </summary>
[Optimizer]
public partial class Yogi
{
    /// <summary>The learning rate (the paper's default 0.01).</summary>
    [Hyper("[0, inf)")] float lr = 1e-2f;
    /// <summary>The first moment's decay.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>The second moment's rate of change.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the second moment's root (the paper uses 1e-3, larger than Adam's).</summary>
    [Hyper("(0, inf)")] float eps = 1e-3f;
    /// <summary>The second moment's starting value.</summary>
    [Hyper("[0, inf)")] float initialAccumulator = 1e-6f;
    /// <summary>L2 penalty added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>The first moment.</summary>
    [State] float m;
    /// <summary>The second moment.</summary>
    [State(InitFrom = nameof(initialAccumulator))] float v;

    [Update]
    void Update(ref float p, float g)
    {
        float d = g + weightDecay * p;
        float d2 = d * d;
        m = beta1 * m + (1 - beta1) * d;
        v -= (1 - beta2) * OptMath.Sign(v - d2) * d2;
        p -= lr * m / (MathF.Sqrt(v) + eps);
    }
}
