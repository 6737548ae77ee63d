using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Lion, EvoLved Sign Momentum (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2):
/// the sign of an interpolated momentum, with decoupled weight decay. One state per element.
/// </summary>
[Optimizer]
public partial class Lion
{
    /// <summary>The learning rate (typically 3-10x smaller than AdamW's).</summary>
    [Hyper("[0, inf)")] float lr = 1e-4f;
    /// <summary>Interpolation between momentum and gradient for the update's sign.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the momentum.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.99f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>Momentum.</summary>
    [State] float m;

    [Update]
    void Update(ref float p, float g)
    {
        float c = beta1 * m + (1 - beta1) * g;
        p -= lr * (OptMath.Sign(c) + weightDecay * p);
        m = beta2 * m + (1 - beta2) * g;
    }
}
