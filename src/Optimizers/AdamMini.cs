using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Adam-mini (Zhang et al., 2024, "Adam-mini: Use Fewer Learning Rates To Gain More"): AdamW with one second moment per
/// block of a weight matrix instead of one per element, the block's mean of <c>g²</c>, so the second moment takes a
/// row's worth of memory instead of the matrix's. The paper's partition by parameter role gives one block per output
/// neuron (a row of a <c>[out, in]</c> weight) to values, attention outputs and MLPs, one per token (a row) to
/// embeddings and the output layer, and one per head to queries and keys; here every matrix has one per row — for
/// queries and keys that is finer than one per head (the DSL has no reduction over a group of rows yet). A tensor of more
/// dimensions is a matrix of its first dimension and the rest; a vector, a matrix of one column, keeps one per element
/// (plain AdamW). Bias corrections and decoupled weight decay as AdamW.
/// </summary>
[Optimizer]
public partial class AdamMini
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Decay of the first moment.</summary>
    [Hyper("[0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the block second moments (the authors use 0.95 for language models).</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Decoupled weight decay: each step multiplies the parameter by <c>1 - lr * weightDecay</c>.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    /// <summary>First moment, per element.</summary>
    [State] float m;
    /// <summary>Second moment, one per row: the row's mean of squared gradients.</summary>
    [State(Shape = StateShape.Rows)] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        p *= 1 - lr * weightDecay;
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * Matrix.RowMean(g * g);
        float denom = MathF.Sqrt(v) / MathF.Sqrt(1 - MathF.Pow(beta2, t)) + eps;
        p -= lr / (1 - MathF.Pow(beta1, t)) * m / denom;
    }
}
