using System;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Clips by the global norm, as <c>torch.nn.utils.clip_grad_norm_</c> does: the norm of all gradients together is
/// computed on the device, and every gradient is scaled by <c>min(1, maxNorm / (norm + 1e-6))</c> — without copying
/// the norm to the host, so the step does not wait for the GPU. Half-precision gradients are measured in float32.
/// </summary>
/// <remarks>
/// As the last gradient stage in front of an optimizer declared with OptDsl (or routed among such), the factor goes
/// to the update instead (<see cref="FoldIntoUpdate"/>): the fused CUDA kernel multiplies each gradient as it reads
/// it, so clipping costs one read of the gradients (the norm) rather than three (norm, then a read and a write to
/// scale them). <c>p.grad</c> then keeps the unclipped gradient.
/// </remarks>
public sealed class ClipGradNorm : OptimizerStage
{
    /// <summary>Clips to <paramref name="maxNorm"/> in the <paramref name="normType"/>-norm (2 by default; any p &gt; 0 or infinity).</summary>
    /// <param name="maxNorm">The largest norm the gradients keep; positive and finite.</param>
    /// <param name="normType">The norm's p.</param>
    /// <param name="errorIfNonfinite">Throw when the norm is NaN or infinite, before anything changes (this reads the norm on the host).</param>
    /// <param name="foldIntoUpdate">Hand the factor to the update where it can take it, leaving <c>p.grad</c> unclipped (see remarks); false scales the gradients in place, as PyTorch does.</param>
    public ClipGradNorm(double maxNorm, double normType = 2, bool errorIfNonfinite = false, bool foldIntoUpdate = true)
    {
        GradientNorms.CheckMaxNorm(maxNorm, normType);
        MaxNorm = maxNorm;
        NormType = normType;
        ErrorIfNonfinite = errorIfNonfinite;
        FoldIntoUpdate = foldIntoUpdate;
    }

    /// <summary>Whether the factor goes to the update where it can (leaving the gradients unclipped) rather than into the gradients.</summary>
    public bool FoldIntoUpdate { get; }

    /// <summary>The largest norm the gradients keep.</summary>
    public double MaxNorm { get; }

    /// <summary>The norm's p.</summary>
    public double NormType { get; }

    /// <summary>Whether a NaN or infinite norm throws.</summary>
    public bool ErrorIfNonfinite { get; }

    /// <summary>
    /// The global gradient norm before clipping at the last update, on the gradients' first device (reading it on the
    /// host waits for the GPU); null before the first update.
    /// </summary>
    public Tensor? LastNorm { get; private set; }

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        using var scope = torch.NewDisposeScope();
        var grads = GradientNorms.Gradients(context.Parameters);
        if (grads.Count == 0) return;
        var total = GradientNorms.Total(grads, NormType);
        if (ErrorIfNonfinite && !total.isfinite().item<bool>())
            throw new InvalidOperationException(
                $"ClipGradNorm: the total {NormType}-norm of the gradients is {total.to(ScalarType.Float64).item<double>()}; the loss or its gradients are not finite.");
        var coefficient = total.add(kept[1e-6], ScalarCalls.One).reciprocal().mul(kept[MaxNorm]).clamp_max(kept[1.0]);
        if (!(FoldIntoUpdate && context.ScaleInUpdate is { } scale && scale(coefficient)))
            foreach (var g in grads) g.mul_(coefficient.to(g.device));
        LastNorm?.Dispose();
        LastNorm = total.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) LastNorm?.Dispose();
        LastNorm = null;
    }
}
