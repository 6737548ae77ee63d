using System;
using System.Collections.Generic;
using System.IO;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Grokfast-EMA (Lee et al., 2024, "Grokfast: Accelerated Grokking by Amplifying Slow Gradients"), as the authors'
/// <c>gradfilter_ema</c> applies it between <c>backward()</c> and the optimizer: an exponential moving average of each
/// parameter's gradient, <c>h ← αh + (1 − α)g</c>, is added back to the gradient, <c>g ← g + λh</c>, amplifying its
/// slow components. h starts at the first gradient. A parameter without a gradient at an update keeps its h; one
/// without a gradient at the first update starts from zero (the authors start it at its first gradient).
/// </summary>
/// <remarks>A gradient stage: put it after <see cref="AccumulateGradients"/> and before clipping, as the authors filter
/// the raw gradient. h is kept in float32 for bf16/fp16 parameters and saved in checkpoints.</remarks>
public sealed class Grokfast : OptimizerStage
{
    readonly ParameterCopies _average = new(nameof(Grokfast));

    /// <summary>The authors' defaults: α = 0.98, λ = 2.</summary>
    public Grokfast(double alpha = 0.98, double lambda = 2.0)
    {
        if (!(alpha >= 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Grokfast's alpha (the average's decay) must be in [0, 1).");
        if (!(lambda >= 0) || double.IsInfinity(lambda)) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "Grokfast's lambda (the amplification) must be finite and at least 0.");
        (Alpha, Lambda) = (alpha, lambda);
    }

    /// <summary>The average's decay.</summary>
    public double Alpha { get; }

    /// <summary>How much of the average is added to the gradient.</summary>
    public double Lambda { get; }

    /// <summary>The gradients' averages, in parameter order (empty before the first update).</summary>
    public IReadOnlyList<Tensor> Averages => _average.All;

    /// <inheritdoc/>
    public override long StateBytes => _average.Bytes;

    /// <inheritdoc/>
    protected internal override void Check(StageContext context) => _average.Check(context.Parameters);

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < context.Parameters.Count; i++)
        {
            var p = context.Parameters[i];
            bool fresh = i >= _average.Count;
            if (fresh)
            {
                _average.CopyAt(i, p);
                if (p.grad is { } first) _average[i].copy_(first);
                else _average[i].zero_();
            }
            if (p.grad is not { } g) continue;
            var h = _average[i];
            // Fresh, h is g already: αg + (1 − α)g is g, as in the authors' first call.
            if (!fresh) h.mul_(kept[Alpha]).add_(g.to(h.dtype), kept[1 - Alpha]);
            g.add_(h.to(g.dtype), kept[Lambda]);
        }
    }

    /// <inheritdoc/>
    protected internal override void MoveTo(Device device) => _average.MoveTo(device);

    /// <inheritdoc/>
    protected internal override void WriteState(BinaryWriter writer) => _average.Write(writer);

    /// <inheritdoc/>
    protected internal override Action ReadState(BinaryReader reader, IReadOnlyList<Parameter> parameters)
    {
        var loaded = _average.Read(reader, parameters);
        return () => _average.Replace(loaded, parameters);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _average.Dispose();
    }
}
