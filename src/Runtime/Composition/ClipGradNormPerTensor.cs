using OptDsl.Runtime.Backends.Portable;
using TorchSharp;

namespace OptDsl.Runtime.Composition;

/// <summary>Clips each gradient tensor by its own norm: <c>g *= min(1, maxNorm / (norm(g) + 1e-6))</c>.</summary>
public sealed class ClipGradNormPerTensor : OptimizerStage
{
    /// <summary>Clips every gradient tensor to <paramref name="maxNorm"/> in the <paramref name="normType"/>-norm.</summary>
    public ClipGradNormPerTensor(double maxNorm, double normType = 2)
    {
        GradientNorms.CheckMaxNorm(maxNorm, normType);
        MaxNorm = maxNorm;
        NormType = normType;
    }

    /// <summary>The largest norm each gradient keeps.</summary>
    public double MaxNorm { get; }

    /// <summary>The norm's p.</summary>
    public double NormType { get; }

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        using var scope = torch.NewDisposeScope();
        foreach (var g in GradientNorms.Gradients(context.Parameters))
            g.mul_(GradientNorms.Norm(g, NormType).add(kept[1e-6], ScalarCalls.One).reciprocal().mul(kept[MaxNorm]).clamp_max(kept[1.0]));
    }
}
