using System;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// The collectives a group of ranks runs together — one process per GPU over NCCL (<see cref="NcclCollectives"/>) or
/// threads of one process (<see cref="ThreadCollectives"/>, for tests and CPU runs). Every rank calls the same operations
/// in the same order with tensors of the same shapes and types; tensors must be contiguous. Operations are queued on the
/// device's stream in call order, like the rest of TorchSharp's work.
/// </summary>
public interface ICollectives : IDisposable
{
    /// <summary>This rank, 0 ≤ rank &lt; <see cref="WorldSize"/>.</summary>
    int Rank { get; }

    /// <summary>The number of ranks.</summary>
    int WorldSize { get; }

    /// <summary>Replaces <paramref name="tensor"/> on every rank by the reduction over ranks.</summary>
    void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum);

    /// <summary>Replaces <paramref name="tensor"/> on rank <paramref name="root"/> by the reduction over ranks; the others' stay.</summary>
    void Reduce(Tensor tensor, int root, ReduceOp op = ReduceOp.Sum);

    /// <summary>Copies <paramref name="tensor"/> of rank <paramref name="root"/> into every rank's.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>Rank r's <paramref name="output"/> becomes the reduction of the r-th of WorldSize equal slices of every rank's <paramref name="input"/>.</summary>
    void ReduceScatter(Tensor input, Tensor output, ReduceOp op = ReduceOp.Sum);

    /// <summary>Every rank's <paramref name="output"/> becomes the ranks' <paramref name="input"/>s one after the other.</summary>
    void AllGather(Tensor input, Tensor output);

    /// <summary>
    /// Runs <paramref name="operations"/> as one group: the collectives it issues (any mix, any count) are launched
    /// together, which for NCCL is what lets many small per-tensor operations proceed as one.
    /// </summary>
    void Group(Action operations);

    /// <summary>
    /// Bytes this rank has put on the wire so far, counted as ring algorithms move them: (N−1)/N of the buffer for a
    /// reduce-scatter or an all-gather, twice that for an all-reduce, the buffer for a reduce or a broadcast. The same
    /// count on every backend, so that schemes can be compared without a network.
    /// </summary>
    long BytesSent { get; }
}
