using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// signSGD (Bernstein et al., 2018, "signSGD: Compressed Optimisation for Non-Convex Problems"): a step of fixed size
/// along the gradient's sign, or with <c>momentum</c> along the sign of an exponential average of gradients (Signum),
/// with decoupled weight decay. With a zeroth-order estimate as the gradient it is ZO-SGD-Sign (ZO-Bench), whose
/// steps do not scale with the noise of the estimate.
/// </summary>
[Optimizer]
public partial class SignSgd
{
    /// <summary>The step size of each element.</summary>
    [Hyper("[0, inf)")] float lr = 1e-4f;
    /// <summary>Momentum (Signum); 0 for plain signSGD, which then keeps no state.</summary>
    [Hyper("[0, 1)")] float momentum = 0f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>The average of gradients (only with momentum).</summary>
    [State(OnlyIf = nameof(momentum))] float m;

    [Update]
    void Update(ref float p, float g)
    {
        p *= 1 - lr * weightDecay;
        if (momentum != 0)
        {
            m = momentum * m + (1 - momentum) * g;
            p -= lr * OptMath.Sign(m);
        }
        else
        {
            p -= lr * OptMath.Sign(g);
        }
    }
}
