using System;
using System.Collections.Generic;
using System.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Lookahead (Zhang et al., 2019, Algorithm 1): slow weights φ start at the parameters θ of the first update; after
/// every <see cref="K"/> inner updates φ ← φ + α(θ − φ) and θ ← φ. The inner optimizer's state carries on unchanged.
/// </summary>
public sealed class Lookahead : OptimizerStage
{
    readonly ParameterCopies _slow = new(nameof(Lookahead));

    /// <inheritdoc/>
    public override long StateBytes => _slow.Bytes;

    /// <summary>Synchronises every <paramref name="k"/> updates with step size <paramref name="alpha"/>.</summary>
    public Lookahead(int k = 5, double alpha = 0.5)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "Lookahead needs k >= 1 inner updates per synchronisation.");
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Lookahead's alpha must be in (0, 1].");
        K = k;
        Alpha = alpha;
    }

    /// <summary>Inner updates per synchronisation.</summary>
    public int K { get; }

    /// <summary>The slow weights' step size toward the fast weights.</summary>
    public double Alpha { get; }

    /// <summary>The slow weights, in parameter order (empty before the first update).</summary>
    public IReadOnlyList<Tensor> SlowWeights => _slow.All;

    /// <inheritdoc/>
    protected internal override void Check(StageContext context) => _slow.Check(context.Parameters);

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context) => _slow.CopyMissing(context.Parameters);

    /// <inheritdoc/>
    protected internal override void AfterUpdate(StageContext context)
    {
        if ((context.Step + 1) % K != 0) return;
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < context.Parameters.Count; i++)
        {
            var (p, slow) = (context.Parameters[i], _slow[i]);
            using var alpha = OptDsl.Runtime.Backends.Portable.TensorMath.Scalar(Alpha, slow);
            slow.lerp_(ParameterCopies.AsCopyType(p), alpha);
            p.copy_(slow);
        }
    }

    /// <inheritdoc/>
    protected internal override void MoveTo(Device device) => _slow.MoveTo(device);

    /// <inheritdoc/>
    protected internal override void WriteState(BinaryWriter writer) => _slow.Write(writer);

    /// <inheritdoc/>
    protected internal override Action ReadState(BinaryReader reader, IReadOnlyList<Parameter> parameters)
    {
        var loaded = _slow.Read(reader, parameters);
        return () => _slow.Replace(loaded, parameters);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _slow.Dispose();
    }
}
