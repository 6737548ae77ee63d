using System;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Distributed;

/// <summary>How a collective combines the ranks' values.</summary>
public enum ReduceOp
{
    /// <summary>The sum over ranks.</summary>
    Sum,
    /// <summary>The sum over ranks divided by the number of ranks.</summary>
    Average,
    /// <summary>The largest value over ranks.</summary>
    Max,
}

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

/// <summary>Shared checks and the byte accounting of <see cref="ICollectives"/> implementations.</summary>
public abstract class CollectivesBase : ICollectives
{
    /// <inheritdoc/>
    public abstract int Rank { get; }
    /// <inheritdoc/>
    public abstract int WorldSize { get; }
    /// <inheritdoc/>
    public long BytesSent { get; private set; }

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        Check(tensor, nameof(tensor));
        Count(2 * Ring(Bytes(tensor)));
        RunAllReduce(tensor, op);
    }

    /// <inheritdoc/>
    public void Reduce(Tensor tensor, int root, ReduceOp op = ReduceOp.Sum)
    {
        Check(tensor, nameof(tensor));
        CheckRoot(root);
        Count(Bytes(tensor));
        RunReduce(tensor, root, op);
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root)
    {
        Check(tensor, nameof(tensor));
        CheckRoot(root);
        Count(Bytes(tensor));
        RunBroadcast(tensor, root);
    }

    /// <inheritdoc/>
    public void ReduceScatter(Tensor input, Tensor output, ReduceOp op = ReduceOp.Sum)
    {
        Check(input, nameof(input));
        Check(output, nameof(output));
        if (input.NumberOfElements != output.NumberOfElements * WorldSize || input.dtype != output.dtype)
            throw new ArgumentException($"A reduce-scatter over {WorldSize} ranks needs an input of {WorldSize}× the output's {output.NumberOfElements} elements of one type; it has {input.NumberOfElements} ({input.dtype}, {output.dtype}).");
        Count(Ring(Bytes(input)));
        RunReduceScatter(input, output, op);
    }

    /// <inheritdoc/>
    public void AllGather(Tensor input, Tensor output)
    {
        Check(input, nameof(input));
        Check(output, nameof(output));
        if (output.NumberOfElements != input.NumberOfElements * WorldSize || input.dtype != output.dtype)
            throw new ArgumentException($"An all-gather over {WorldSize} ranks needs an output of {WorldSize}× the input's {input.NumberOfElements} elements of one type; it has {output.NumberOfElements} ({input.dtype}, {output.dtype}).");
        Count(Ring(Bytes(output)));
        RunAllGather(input, output);
    }

    /// <inheritdoc/>
    public abstract void Group(Action operations);

    /// <summary>The backend's all-reduce of a checked tensor.</summary>
    protected abstract void RunAllReduce(Tensor tensor, ReduceOp op);
    /// <summary>The backend's reduce of a checked tensor.</summary>
    protected abstract void RunReduce(Tensor tensor, int root, ReduceOp op);
    /// <summary>The backend's broadcast of a checked tensor.</summary>
    protected abstract void RunBroadcast(Tensor tensor, int root);
    /// <summary>The backend's reduce-scatter of checked tensors.</summary>
    protected abstract void RunReduceScatter(Tensor input, Tensor output, ReduceOp op);
    /// <summary>The backend's all-gather of checked tensors.</summary>
    protected abstract void RunAllGather(Tensor input, Tensor output);

    /// <inheritdoc/>
    public abstract void Dispose();

    long Ring(long bytes) => bytes * (WorldSize - 1) / WorldSize;

    void Count(long bytes) => BytesSent += bytes;

    static long Bytes(Tensor t) => t.NumberOfElements * t.ElementSize;

    void CheckRoot(int root)
    {
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank, 0 to {WorldSize - 1}.");
    }

    /// <summary>Throws unless <paramref name="tensor"/> is contiguous (collectives read and write its memory directly).</summary>
    protected virtual void Check(Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!tensor.is_contiguous()) throw new ArgumentException("Collectives need contiguous tensors.", name);
    }
}
