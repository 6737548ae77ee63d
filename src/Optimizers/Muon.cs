using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Muon (Jordan et al., 2024, "Muon: An optimizer for hidden layers in neural networks"): SGD momentum (Nesterov by
/// default) whose update is orthogonalised by Newton–Schulz iterations, scaled by <c>sqrt(max(1, rows/columns))</c>,
/// with decoupled weight decay — as the authors' reference implementation (<c>polarExpress</c>: Polar Express's
/// polynomials instead of the fixed quintic, as modded-nanogpt now runs). For hidden weight matrices only: route
/// embeddings, the output head, biases and gains to AdamW (<c>Routing.Route</c>).
/// </summary>
[Optimizer]
public partial class Muon
{
    /// <summary>The learning rate (spectral: about 0.02 suits most hidden layers).</summary>
    [Hyper("[0, inf)")] float lr = 0.02f;
    /// <summary>Momentum.</summary>
    [Hyper("[0, 1)")] float momentum = 0.95f;
    /// <summary>Orthogonalise the Nesterov look-ahead instead of the momentum itself.</summary>
    [Hyper] bool nesterov = true;
    /// <summary>Newton–Schulz iterations.</summary>
    [Hyper("[0, 100]")] int nsSteps = 5;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>
    /// Orthogonalise with Polar Express's polynomials, one per iteration (Amsel et al., 2025), instead of the fixed
    /// quintic: closer to the polar factor in the same number of iterations.
    /// </summary>
    [Hyper] bool polarExpress = false;

    /// <summary>Momentum buffer.</summary>
    [State] float buffer;

    [Update]
    void Update(ref float p, float g)
    {
        buffer = OptMath.Lerp(buffer, g, 1 - momentum);
        float u = nesterov ? OptMath.Lerp(g, buffer, momentum) : buffer;
        float o = Matrix.NewtonSchulz(u, nsSteps, 3.4445f, -4.7750f, 2.0315f,
            polarExpress ? Matrix.PolarExpressCoefficients : Matrix.ConstantCoefficients);
        p *= 1 - lr * weightDecay;
        p -= lr * MathF.Sqrt(MathF.Max(1f, Matrix.Rows() / Matrix.Columns())) * o;
    }
}
