using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Services.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// Data-parallel training with any optimizer: after each rank's backward, <see cref="Step"/> averages the gradients over
/// ranks — one grouped all-reduce, or a <see cref="GradientCompression"/> (PowerSGD, top-k) with its error feedback —
/// and steps the rank's optimizer, which every rank keeps whole (see <see cref="ShardedOptimizer"/> to split it).
/// Parameters start from rank 0's.
/// </summary>
public sealed class DataParallel : IDisposable
{
    const string Tag = "OptDsl.DataParallel";
    readonly Parameter[] _parameters;
    readonly optim.Optimizer _optimizer;
    readonly ICollectives _collectives;

    /// <param name="parameters">The replica's parameters, the same list on every rank.</param>
    /// <param name="optimizer">This rank's optimizer over them.</param>
    /// <param name="collectives">The group.</param>
    /// <param name="compression">How gradients are averaged; null: a plain all-reduce.</param>
    public DataParallel(System.Collections.Generic.IEnumerable<Parameter> parameters, optim.Optimizer optimizer, ICollectives collectives, GradientCompression? compression = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _collectives = collectives ?? throw new ArgumentNullException(nameof(collectives));
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("No parameters.", nameof(parameters));
        Compression = compression;
        using (no_grad())
            _collectives.Group(() => { foreach (var p in _parameters) _collectives.Broadcast(p, 0); });
    }

    /// <summary>The compression, or null.</summary>
    public GradientCompression? Compression { get; }

    /// <summary>Averages the gradients over ranks (absent ones count as zero), then steps this rank's optimizer.</summary>
    public void Step()
    {
        using (no_grad())
        {
            foreach (var p in _parameters) p.grad ??= torch.zeros_like(p).DetachFromDisposeScope();
            var grads = _parameters.Select(p => p.grad!).ToArray();
            if (Compression is null) _collectives.Group(() => { foreach (var g in grads) _collectives.AllReduce(g, ReduceOp.Average); });
            else Compression.AverageInPlace(grads, _collectives);
        }
        _optimizer.step();
    }

    /// <summary>
    /// Saves this rank's compression state (error feedback, warm starts) to <paramref name="path"/> (one file per rank;
    /// the optimizer saves its own), checksummed and written atomically.
    /// </summary>
    public void SaveCheckpoint(string path) => CheckpointFile.Write(path, writer =>
    {
        writer.Write(Tag);
        writer.Write(Compression?.Fingerprint ?? "");
        writer.Write(_collectives.Rank);
        writer.Write(_collectives.WorldSize);
        var state = Compression?.State ?? Array.Empty<Tensor?>();
        writer.Write(state.Length);
        foreach (var t in state)
        {
            writer.Write(t is not null);
            if (t is not null) TensorRecord.Write(writer, t);
        }
    });

    /// <summary>Loads a checkpoint of <see cref="SaveCheckpoint"/>, checked whole (settings, rank, shapes, finite values) before anything changes.</summary>
    public void LoadCheckpoint(string path) => CheckpointFile.Load(path, reader =>
    {
        CheckpointFile.ExpectTag(reader.ReadString(), Tag, path);
        var fingerprint = reader.ReadString();
        if (fingerprint != (Compression?.Fingerprint ?? ""))
            throw new InvalidDataException($"{path} was written with compression '{fingerprint}'; this run uses '{Compression?.Fingerprint ?? "none"}'.");
        var (rank, world) = (reader.ReadInt32(), reader.ReadInt32());
        if (rank != _collectives.Rank || world != _collectives.WorldSize)
            throw new InvalidDataException($"{path} is rank {rank} of {world}'s; this is rank {_collectives.Rank} of {_collectives.WorldSize}.");
        int count = reader.ReadInt32();
        var expected = Compression switch
        {
            PowerSgd power => power.StateShapes(_parameters),
            null => Array.Empty<long[]?>(),
            _ => _parameters.Select(p => (long[]?)p.shape).ToArray(),
        };
        if (count != 0 && count != expected.Length) throw new InvalidDataException($"{path} holds {count} state tensors; {expected.Length} are expected.");
        var loaded = new Tensor?[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (!reader.ReadBoolean()) continue;
                var t = loaded[i] = TensorRecord.Read(reader).to(_parameters[0].device).DetachFromDisposeScope();
                if (expected[i] is not { } shape || !t.shape.SequenceEqual(shape) || !t.isfinite().all().item<bool>())
                    throw new InvalidDataException($"{path}: state tensor {i} is [{string.Join(", ", t.shape)}]{(t.isfinite().all().item<bool>() ? "" : " and not finite")}; expected [{string.Join(", ", expected[i] ?? Array.Empty<long>())}].");
            }
        }
        catch
        {
            foreach (var t in loaded) t?.Dispose();
            throw;
        }
        return () =>
        {
            if (Compression is null) return;
            foreach (var t in Compression.State) t?.Dispose();
            Compression.Restore(loaded);
        };
    });

    /// <summary>Disposes the compression state.</summary>
    public void Dispose() => Compression?.Dispose();
}
