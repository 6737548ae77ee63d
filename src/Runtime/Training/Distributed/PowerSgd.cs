using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

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
            m[i] = g.reshape(g.shape[0], -1).Plus(ErrorOf(_errors, i, g).reshape(g.shape[0], -1));
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
