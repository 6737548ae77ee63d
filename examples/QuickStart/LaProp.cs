using System;
using OptDsl;

namespace QuickStart;

/// <summary>
/// LaProp (Ziyin, Wang &amp; Ueda, 2020, "LaProp: Separating Momentum and Adaptivity in Adam"): normalize the gradient
/// by its running RMS first, then take momentum of the normalized gradient. Declared here, in the example's own
/// code: the OptDsl generator turns this class into a TorchSharp optimizer at build time.
/// </summary>
[Optimizer]
public partial class LaProp
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 4e-4f;
    /// <summary>Decay of the momentum of normalized gradients.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the squared-gradient average.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the RMS for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-15f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>Momentum of the normalized gradient.</summary>
    [State] float m;
    /// <summary>Average of squared gradients.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        v = beta2 * v + (1 - beta2) * g * g;
        float vHat = v / (1 - MathF.Pow(beta2, t));
        m = beta1 * m + (1 - beta1) * g / (MathF.Sqrt(vHat) + eps);
        p -= lr * (m / (1 - MathF.Pow(beta1, t)) + weightDecay * p);
    }
}
