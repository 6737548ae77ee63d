using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

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
        using var kept = KeptScalars.Rent();
        if (_errors.Length == 0) _errors = new Tensor?[gradients.Count];
        if (_errors.Length != gradients.Count) throw new InvalidOperationException($"Top-k was set up for {_errors.Length} gradients; it got {gradients.Count}.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int ranks = collectives.WorldSize;
        var sends = new List<(Tensor Values, Tensor Indices, Tensor AllValues, Tensor AllIndices)>();
        for (int i = 0; i < gradients.Count; i++)
        {
            var g = gradients[i];
            var accumulated = g.reshape(-1).Plus(ErrorOf(_errors, i, g).reshape(-1));
            long k = Sent(g.NumberOfElements);
            var indices = accumulated.abs().topk((int)k).indexes;
            var values = accumulated.index_select(0, indices);
            // What is sent leaves the error; the rest stays in it.
            _errors[i]!.copy_(accumulated.index_fill(0, indices, kept[0]).reshape(g.shape));
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
            dense.index_add_(0, sends[i].AllIndices, sends[i].AllValues, kept[1.0]);
            gradients[i].copy_(dense.div(kept[ranks]).reshape(gradients[i].shape));
        }
    }
}
