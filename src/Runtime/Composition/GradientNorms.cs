using System;
using System.Collections.Generic;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>Gradient norms shared by the clipping stages.</summary>
static class GradientNorms
{
    public static void CheckMaxNorm(double maxNorm, double normType)
    {
        if (!(maxNorm > 0) || double.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Clipping needs a positive, finite maximum norm.");
        if (!(normType > 0))
            throw new ArgumentOutOfRangeException(nameof(normType), normType, "The norm type must be positive (2 for the Euclidean norm, infinity for the largest magnitude).");
    }

    /// <summary>The gradients present (inside the caller's dispose scope).</summary>
    public static List<Tensor> Gradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        var grads = new List<Tensor>(parameters.Count);
        foreach (var p in parameters)
            if (p.grad is { } g) grads.Add(g);
        return grads;
    }

    /// <summary>The p-norm of <paramref name="g"/>, in float32 for half-precision gradients.</summary>
    public static Tensor Norm(Tensor g, double p)
    {
        return Backends.Portable.Norms.Vector(DeclaredState.InStateType(g), p);
    }

    /// <summary>
    /// The p-norm of all <paramref name="grads"/> together, on the first one's device: one multi-tensor kernel where they
    /// are all on one CUDA device (a read of each gradient and a few launches), else a norm per tensor combined.
    /// </summary>
    public static Tensor Total(List<Tensor> grads, double p)
    {
        if (Backends.Cuda.MultiTensorNorm.TryNorm(grads, p) is { } fused) return fused;
        var device = grads[0].device;
        var norms = new List<Tensor>(grads.Count);
        foreach (var g in grads) norms.Add(Norm(g, p).to(device));
        return Combine(norms, p);
    }

    /// <summary>The p-norm of the vector of per-tensor p-norms: the norm of all elements together.</summary>
    public static Tensor Combine(List<Tensor> norms, double p)
    {
        if (norms.Count == 1) return norms[0];
        var type = norms.Exists(n => n.dtype == ScalarType.Float64) ? ScalarType.Float64 : ScalarType.Float32;
        return Backends.Portable.Norms.Vector(torch.stack(norms.ConvertAll(n => n.to(type))), p);
    }
}
