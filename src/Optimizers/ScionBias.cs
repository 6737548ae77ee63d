using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Scion's LMO for biases and gains (Pethick et al., 2025; the authors' <c>BiasRMS</c>): the averaged gradient divided
/// by its RMS down the first dimension (over the whole of a vector), scaled by the radius <c>scale</c>, in the same
/// constrained or unconstrained step as <see cref="Scion"/>, which takes the matrices.
/// </summary>
[Optimizer]
public partial class ScionBias
{
    /// <summary>The learning rate: the step as a fraction of the radius.</summary>
    [Hyper("[0, 1]")] float lr = 1e-3f;
    /// <summary>One minus the usual momentum: the weight of the new gradient in the average (1: none).</summary>
    [Hyper("(0, 1]")] float momentum = 0.1f;
    /// <summary>The radius the LMO's unit step is scaled to.</summary>
    [Hyper("(0, inf)")] float scale = 1f;
    /// <summary>The unconstrained form: no shrinking of the weights towards the ball.</summary>
    [Hyper] bool unconstrained = false;

    /// <summary>The averaged gradient d.</summary>
    [State] float buffer;

    [Update]
    void Update(ref float p, float g)
    {
        buffer = OptMath.Lerp(buffer, g, momentum);
        float lmo = buffer / (Matrix.ColumnNorm(buffer) / MathF.Sqrt(Matrix.Rows()) + 1e-8f);
        if (!unconstrained) p *= 1 - lr;
        p -= lr * scale * lmo;
    }
}
