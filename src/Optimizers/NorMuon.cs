using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// NorMuon (Li et al., 2025, "NorMuon: Making Muon more efficient and scalable"): Muon whose orthogonalised update is
/// divided, row by row (neuron by neuron), by the root of an exponential average of that row's mean square, so that
/// no neuron's update dominates. Follows the authors' reference implementation (normuon.py): the Nesterov look-ahead,
/// no bias correction, and the normalised update rescaled to the Frobenius norm the orthogonalised one had, then by
/// Muon's <c>sqrt(max(1, rows/columns))</c> — so Muon's learning rates carry over. With <c>rmsMatch</c> the step is
/// the paper's Algorithm 1 instead: <c>0.2·sqrt(rows·columns)/‖Ô‖</c>, an update of Adam's RMS (use AdamW's
/// learning rates). Rows are the matrix view's (<c>shape[0]</c>); for hidden weight matrices only: route the rest
/// to AdamW (<c>Routing.Route</c>).
/// </summary>
[Optimizer]
public partial class NorMuon
{
    /// <summary>The learning rate (as Muon's, about 0.02; as AdamW's with <c>rmsMatch</c>).</summary>
    [Hyper("[0, inf)")] float lr = 0.02f;
    /// <summary>Momentum.</summary>
    [Hyper("[0, 1)")] float momentum = 0.95f;
    /// <summary>Decay of each row's second moment.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.95f;
    /// <summary>Orthogonalise the Nesterov look-ahead instead of the momentum itself.</summary>
    [Hyper] bool nesterov = true;
    /// <summary>Newton–Schulz iterations.</summary>
    [Hyper("[0, 100]")] int nsSteps = 5;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Added to each row's root second moment and to the norm the rescaling divides by.</summary>
    [Hyper("(0, inf)")] float eps = 1e-10f;
    /// <summary>The paper's step: the update's RMS set to 0.2, as Adam's, instead of Muon's norm and shape scale.</summary>
    [Hyper] bool rmsMatch = false;

    /// <summary>Momentum buffer.</summary>
    [State] float buffer;
    /// <summary>Each row's exponential average of the orthogonalised update's mean square.</summary>
    [State(Shape = StateShape.Rows)] float v;

    [Update]
    void Update(ref float p, float g)
    {
        buffer = OptMath.Lerp(buffer, g, 1 - momentum);
        float u = nesterov ? OptMath.Lerp(g, buffer, momentum) : buffer;
        float o = Matrix.NewtonSchulz(u, nsSteps);
        v = beta2 * v + (1 - beta2) * Matrix.RowMean(o * o);
        float normalized = o / (MathF.Sqrt(v) + eps);
        float scale;
        if (rmsMatch) scale = 0.2f * MathF.Sqrt(Matrix.Rows() * Matrix.Columns()) / Reduce.Norm(normalized);
        else scale = Reduce.Norm(o) / (Reduce.Norm(normalized) + eps) * MathF.Sqrt(MathF.Max(1f, Matrix.Rows() / Matrix.Columns()));
        p *= 1 - lr * weightDecay;
        p -= lr * scale * normalized;
    }
}
