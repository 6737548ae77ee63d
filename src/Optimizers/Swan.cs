using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// SWAN (Ma, Gong, Scetbon and Meeds, 2024, "SWAN: SGD with Normalization and Whitening Enables Stateless LLM
/// Training"): stateless SGD on a preprocessed gradient. GradNorm standardises each row of the gradient matrix across
/// its columns (mean 0, deviation 1); GradWhitening maps the result <c>G</c> to <c>(G Gᵀ)^(-1/2) G</c>, the orthogonal
/// polar factor <c>U Vᵀ</c>, here by the cubic Newton–Schulz iteration <c>X ← 1.5 X − 0.5 X Xᵀ X</c>, whose limit that
/// is; the whitened step is rescaled to the normalised gradient's Frobenius norm (optional, as in the paper). No
/// state at all. For hidden weight matrices: route embeddings, the head, biases and gains to AdamW.
/// </summary>
[Optimizer]
public partial class Swan
{
    /// <summary>The learning rate.</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Newton–Schulz iterations of the whitening (the cubic iteration gains about 1.5x per step on small singular values).</summary>
    [Hyper("[0, 100]")] int nsSteps = 10;
    /// <summary>Rescale the whitened step to the normalised gradient's norm.</summary>
    [Hyper] bool rescale = true;
    /// <summary>Added to each row's deviation in GradNorm.</summary>
    [Hyper("[0, inf)")] float eps = 1e-8f;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;

    [Update]
    void Update(ref float p, float g)
    {
        float centered = g - Matrix.RowMean(g);
        float normalized = centered / (MathF.Sqrt(Matrix.RowMean(centered * centered)) + eps);
        float whitened = Matrix.NewtonSchulz(normalized, nsSteps, 1.5f, -0.5f, 0f);
        float scale = rescale ? Reduce.Norm(normalized) / Reduce.Norm(whitened) : 1f;
        p *= 1 - lr * weightDecay;
        p -= lr * scale * whitened;
    }
}
