using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Scion (Pethick et al., 2025, "Training Deep Learning Models with Norm-Constrained LMOs"): each step moves a layer
/// along the linear minimisation oracle (LMO) of its averaged gradient over the unit ball of a norm chosen for the
/// layer's role, scaled by the radius <c>scale</c>: spectral for hidden matrices (Newton–Schulz, scaled by
/// <c>sqrt(rows/columns)</c>), sign for the output head, column- or row-normalised for embeddings. The constrained form
/// (the default) keeps weights inside the ball, <c>p ← (1 − lr)·p − lr·scale·lmo(d)</c>; <c>unconstrained</c> drops
/// the <c>(1 − lr)</c>. Follows the authors' reference implementation (scion.py): <c>momentum</c> is one minus the
/// usual momentum (<c>d ← (1 − momentum)·d + momentum·g</c>; 1 for none; their README recommends 0.1, the default
/// here); the matrix view is <c>shape[0]</c> rows by the rest as columns (their <c>d_out</c>, <c>d_in</c> for a
/// matrix; for convolution kernels their <c>SpectralConv</c> scale differs). Route vectors to <see cref="ScionBias"/>.
/// </summary>
[Optimizer]
public partial class Scion
{
    /// <summary>The spectral norm's LMO: the orthogonalised update, times <c>sqrt(rows/columns)</c> (hidden matrices).</summary>
    public const int Spectral = 0;
    /// <summary>The sign LMO (ℓ∞ to ℓ∞ with the input dimension's scale): <c>sign(d)/columns</c> (the output head).</summary>
    public const int Sign = 1;
    /// <summary>Each column divided by its RMS (times <c>columns</c> when normalised): embeddings stored as (inputs, width).</summary>
    public const int ColumnNorm = 2;
    /// <summary>Each row divided by its norm (times <c>sqrt(columns)</c> when normalised).</summary>
    public const int RowNorm = 3;

    /// <summary>The learning rate: the step as a fraction of the radius.</summary>
    [Hyper("[0, 1]")] float lr = 1e-3f;
    /// <summary>One minus the usual momentum: the weight of the new gradient in the average (1: none).</summary>
    [Hyper("(0, 1]")] float momentum = 0.1f;
    /// <summary>The norm: <see cref="Spectral"/>, <see cref="Sign"/>, <see cref="ColumnNorm"/> or <see cref="RowNorm"/>.</summary>
    [Hyper("[0, 3]")] int norm = Spectral;
    /// <summary>The radius the LMO's unit step is scaled to (the authors' <c>scale</c>; 50 for a GPT's hidden layers, 3000 for its head, in their example).</summary>
    [Hyper("(0, inf)")] float scale = 1f;
    /// <summary>The dimension-aware scale of each norm (the authors' <c>normalized</c>; they leave it off for a column-normalised input layer).</summary>
    [Hyper] bool normalized = true;
    /// <summary>Spectral only: the scale at least 1 (the authors' <c>max</c>).</summary>
    [Hyper] bool spectralMax = false;
    /// <summary>Column and row norms of the transposed matrix (the authors' <c>transpose</c>: embeddings stored as (vocabulary, width)).</summary>
    [Hyper] bool transpose = false;
    /// <summary>The unconstrained form: no shrinking of the weights towards the ball.</summary>
    [Hyper] bool unconstrained = false;
    /// <summary>Newton–Schulz iterations of the spectral LMO.</summary>
    [Hyper("[0, 100]")] int nsSteps = 5;

    /// <summary>The averaged gradient d.</summary>
    [State] float buffer;

    [Update]
    void Update(ref float p, float g)
    {
        buffer = OptMath.Lerp(buffer, g, momentum);
        float rows = Matrix.Rows(), columns = Matrix.Columns();
        float lmo;
        if (norm == Spectral)
        {
            float shape = normalized ? MathF.Sqrt(rows / columns) : MathF.Sqrt(rows);
            lmo = Matrix.NewtonSchulz(buffer, nsSteps) * (spectralMax ? MathF.Max(1f, shape) : shape);
        }
        else if (norm == Sign) lmo = OptMath.Sign(buffer) / (normalized ? columns : 1f);
        else if (norm == ColumnNorm)
        {
            // The RMS down each column (of the transpose: along each row), times the other side when normalised.
            float rms = transpose ? Matrix.RowNorm(buffer) / MathF.Sqrt(columns) : Matrix.ColumnNorm(buffer) / MathF.Sqrt(rows);
            lmo = buffer / (rms * (normalized ? (transpose ? rows : columns) : 1f) + 1e-8f);
        }
        else
        {
            float length = transpose ? Matrix.ColumnNorm(buffer) : Matrix.RowNorm(buffer);
            lmo = buffer / (length * (normalized ? MathF.Sqrt(transpose ? rows : columns) : 1f) + 1e-8f);
        }
        if (!unconstrained) p *= 1 - lr;
        p -= lr * scale * lmo;
    }
}
