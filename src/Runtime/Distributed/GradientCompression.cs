using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Distributed;

/// <summary>
/// A way to average gradients over ranks that sends less than an all-reduce of them, with error feedback: what a rank's
/// message leaves out of its gradient is kept and added to its next gradient, so nothing is lost, only delayed. The
/// state (errors, warm starts) is per rank and goes into <see cref="DataParallel"/>'s checkpoints.
/// </summary>
public abstract class GradientCompression : IDisposable
{
    /// <summary>Replaces every gradient in <paramref name="gradients"/> by the compressed average over ranks.</summary>
    public abstract void AverageInPlace(IReadOnlyList<Tensor> gradients, ICollectives collectives);

    /// <summary>The error-feedback state, one tensor per gradient (null before the first step); what checkpoints save.</summary>
    internal abstract Tensor?[] State { get; }

    /// <summary>Puts checked state in place (the shapes were compared with the gradients').</summary>
    internal abstract void Restore(Tensor?[] state);

    /// <summary>A name with the settings, which a checkpoint must match.</summary>
    internal abstract string Fingerprint { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in State) t?.Dispose();
    }

    /// <summary>The error of gradient <paramref name="index"/>, made zero the first time.</summary>
    protected static Tensor ErrorOf(Tensor?[] errors, int index, Tensor like) =>
        errors[index] ??= torch.zeros_like(like).DetachFromDisposeScope();
}

/// <summary>
/// PowerSGD (Vogels, Karimireddy and Jaggi, 2019): each matrix gradient M (n×m, with the rank's error added) is sent as
/// two thin factors — P = M Q averaged, orthonormalised, then Q = Mᵀ P̂ averaged — and rebuilt as P̂ Qᵀ: (n + m)·r numbers
/// instead of n·m. Q starts from the counter-based normal generator (the same on every rank) and is warm-started from
/// the last step's. Vectors (biases, norms) go uncompressed in one all-reduce. The error is M − P̂ Qᵀ of the rank's own M.
/// </summary>
public sealed class PowerSgd : GradientCompression
{
    readonly int _rank;
    readonly ulong _seed;
    Tensor?[] _errors = Array.Empty<Tensor?>(), _q = Array.Empty<Tensor?>();

    /// <param name="rank">r, the factors' width (capped at min(n, m) per matrix, where it is exact).</param>
    /// <param name="seed">The seed of Q's first values.</param>
    public PowerSgd(int rank, ulong seed = 0)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "The rank must be at least 1.");
        (_rank, _seed) = (rank, seed);
    }

    internal override string Fingerprint => $"PowerSGD rank {_rank} seed {_seed}";

    internal override Tensor?[] State => _errors.Concat(_q).ToArray();

    internal override void Restore(Tensor?[] state)
    {
        int n = state.Length / 2;
        (_errors, _q) = (state[..n], state[n..]);
    }

    /// <summary>The state's tensors for gradients of these shapes: an error like each, a Q for each matrix.</summary>
    internal long[]?[] StateShapes(IReadOnlyList<Tensor> gradients) =>
        gradients.Select(g => (long[]?)g.shape).Concat(gradients.Select(g => g.dim() < 2 ? null : new[] { Columns(g), Width(g) })).ToArray();

    static long Columns(Tensor g) => g.NumberOfElements / g.shape[0];

    long Width(Tensor g) => Math.Min(_rank, Math.Min(g.shape[0], Columns(g)));

    /// <inheritdoc/>
    public override void AverageInPlace(IReadOnlyList<Tensor> gradients, ICollectives collectives)
    {
        if (_errors.Length == 0) (_errors, _q) = (new Tensor?[gradients.Count], new Tensor?[gradients.Count]);
        if (_errors.Length != gradients.Count) throw new InvalidOperationException($"PowerSGD was set up for {_errors.Length} gradients; it got {gradients.Count}.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var vectors = Enumerable.Range(0, gradients.Count).Where(i => gradients[i].dim() < 2).ToArray();
        var matrices = Enumerable.Range(0, gradients.Count).Where(i => gradients[i].dim() >= 2).ToArray();
        collectives.Group(() => { foreach (int i in vectors) collectives.AllReduce(gradients[i], ReduceOp.Average); });
        var m = new Dictionary<int, Tensor>();
        var p = new Dictionary<int, Tensor>();
        foreach (int i in matrices)
        {
            var g = gradients[i];
            m[i] = g.reshape(g.shape[0], -1).add(ErrorOf(_errors, i, g).reshape(g.shape[0], -1));
            _q[i] ??= CounterRandomTensors.Normal(_seed, (ulong)i, new[] { Columns(g), Width(g) }, g.device).to(g.dtype).DetachFromDisposeScope();
            p[i] = m[i].matmul(_q[i]!);
        }
        collectives.Group(() => { foreach (int i in matrices) collectives.AllReduce(p[i], ReduceOp.Average); });
        foreach (int i in matrices)
        {
            p[i] = linalg.qr(p[i]).Q.contiguous();
            _q[i]!.copy_(m[i].t().matmul(p[i]));
        }
        collectives.Group(() => { foreach (int i in matrices) collectives.AllReduce(_q[i]!, ReduceOp.Average); });
        foreach (int i in matrices)
        {
            var approx = p[i].matmul(_q[i]!.t());
            _errors[i]!.copy_(m[i].sub(approx).reshape(gradients[i].shape));
            gradients[i].copy_(approx.reshape(gradients[i].shape));
        }
    }
}

/// <summary>
/// Top-k sparsification (Deep Gradient Compression, Lin et al., 2018, without its momentum correction): each rank adds
/// its error to its gradient, sends the k = ⌈density·n⌉ entries of largest magnitude of each tensor (values and
/// positions, one all-gather), and keeps the rest as its next error; the average is the sum of every rank's entries
/// over the number of ranks.
/// </summary>
public sealed class TopK : GradientCompression
{
    readonly double _density;
    Tensor?[] _errors = Array.Empty<Tensor?>();

    /// <param name="density">The share of each tensor's entries sent, in (0, 1].</param>
    public TopK(double density)
    {
        if (!(density > 0 && density <= 1)) throw new ArgumentOutOfRangeException(nameof(density), density, "The density must be in (0, 1].");
        _density = density;
    }

    internal override string Fingerprint => $"TopK density {_density:R}";

    internal override Tensor?[] State => _errors;

    internal override void Restore(Tensor?[] state) => _errors = state;

    /// <summary>Entries sent of a tensor of <paramref name="n"/>.</summary>
    public long Sent(long n) => Math.Max(1, (long)Math.Ceiling(_density * n));

    /// <inheritdoc/>
    public override void AverageInPlace(IReadOnlyList<Tensor> gradients, ICollectives collectives)
    {
        if (_errors.Length == 0) _errors = new Tensor?[gradients.Count];
        if (_errors.Length != gradients.Count) throw new InvalidOperationException($"Top-k was set up for {_errors.Length} gradients; it got {gradients.Count}.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int ranks = collectives.WorldSize;
        var sends = new List<(Tensor Values, Tensor Indices, Tensor AllValues, Tensor AllIndices)>();
        for (int i = 0; i < gradients.Count; i++)
        {
            var g = gradients[i];
            var accumulated = g.reshape(-1).add(ErrorOf(_errors, i, g).reshape(-1));
            long k = Sent(g.NumberOfElements);
            var indices = accumulated.abs().topk((int)k).indexes;
            var values = accumulated.index_select(0, indices);
            // What is sent leaves the error; the rest stays in it.
            _errors[i]!.copy_(accumulated.index_fill(0, indices, 0).reshape(g.shape));
            sends.Add((values.contiguous(), indices.contiguous(), torch.zeros(ranks * k, values.dtype, g.device), torch.zeros(ranks * k, ScalarType.Int64, g.device)));
        }
        collectives.Group(() =>
        {
            foreach (var s in sends)
            {
                collectives.AllGather(s.Values, s.AllValues);
                collectives.AllGather(s.Indices, s.AllIndices);
            }
        });
        for (int i = 0; i < gradients.Count; i++)
        {
            var dense = torch.zeros(gradients[i].NumberOfElements, gradients[i].dtype, gradients[i].device);
            dense.index_add_(0, sends[i].AllIndices, sends[i].AllValues, 1.0);
            gradients[i].copy_(dense.div(ranks).reshape(gradients[i].shape));
        }
    }
}
