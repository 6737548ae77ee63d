using System;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

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
