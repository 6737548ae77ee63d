using System;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;

namespace OptDsl.Runtime.Composition;

/// <summary>Clips every gradient element to [-<see cref="ClipValue"/>, <see cref="ClipValue"/>], as <c>clip_grad_value_</c>.</summary>
public sealed class ClipGradValue : OptimizerStage
{
    /// <summary>Clips to ±<paramref name="clipValue"/>; positive and finite.</summary>
    public ClipGradValue(double clipValue)
    {
        if (!(clipValue > 0) || double.IsInfinity(clipValue))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "ClipGradValue needs a positive, finite clip value.");
        ClipValue = clipValue;
    }

    /// <summary>The largest magnitude a gradient element keeps.</summary>
    public double ClipValue { get; }

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        using var scope = torch.NewDisposeScope();
        foreach (var g in GradientNorms.Gradients(context.Parameters)) g.clamp_(kept[-ClipValue], kept[ClipValue]);
    }
}
