using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Adaptive gradient clipping (Brock et al., 2021, "High-Performance Large-Scale Image Recognition Without
/// Normalization", §4.1): each unit's gradient — a row of a weight (all dimensions but the first), or a whole bias or
/// gain vector — is scaled down to at most <see cref="Clipping"/> times its weights' norm (at least
/// <see cref="Epsilon"/>), so no unit moves too far relative to its size. Unit norms stay on the device.
/// </summary>
public sealed class AdaptiveGradientClip : OptimizerStage
{
    /// <summary>Clips to <paramref name="clipping"/> × max(‖W_i‖, <paramref name="epsilon"/>) per unit i; both positive and finite.</summary>
    public AdaptiveGradientClip(double clipping = 0.01, double epsilon = 1e-3)
    {
        if (!(clipping > 0) || double.IsInfinity(clipping))
            throw new ArgumentOutOfRangeException(nameof(clipping), clipping, "AdaptiveGradientClip needs a positive, finite clipping ratio.");
        if (!(epsilon > 0) || double.IsInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "AdaptiveGradientClip needs a positive, finite epsilon.");
        (Clipping, Epsilon) = (clipping, epsilon);
    }

    /// <summary>The largest ratio of a unit's gradient norm to its weights' norm.</summary>
    public double Clipping { get; }

    /// <summary>The smallest weight norm a unit is measured against (so units at zero can still move).</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        using var scope = torch.NewDisposeScope();
        foreach (var p in context.Parameters)
        {
            if (p.grad is not { } g || g.NumberOfElements == 0) continue;
            var maxNorm = UnitNorms(p).clamp_min(kept[Epsilon]).mul_(kept[Clipping]);
            var gradNorm = UnitNorms(g);
            // Where the gradient norm exceeds the bound, scale it to the bound; elsewhere leave it.
            var scale = torch.where(gradNorm.gt(maxNorm), maxNorm.div(gradNorm.clamp_min(kept[1e-6])), torch.ones_like(gradNorm));
            g.mul_(scale.to(g.dtype));
        }
    }

    /// <summary>The Euclidean norm of each unit, shaped to broadcast over the tensor: over all dimensions but the first; a vector is one unit.</summary>
    static Tensor UnitNorms(Tensor x)
    {
        var wide = DeclaredState.InStateType(x);
        if (x.dim() <= 1) return Backends.Portable.Norms.Vector(wide);
        var dims = Enumerable.Range(1, (int)x.dim() - 1).Select(d => (long)d).ToArray();
        return wide.Squared().sum(dims, keepdim: true).sqrt();
    }
}
