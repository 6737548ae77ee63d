using System;
using System.Linq;
using System.Threading;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// Collectives among threads of one process, each thread a rank with its own tensors (any device): what the tests and
/// single-machine CPU runs use to exercise sharded and communication-efficient training without GPUs. Reductions add the
/// ranks' values in rank order, so every rank gets the same bits. Make the group with <see cref="Create"/> and run each
/// rank's work on its own thread.
/// </summary>
public sealed class ThreadCollectives : CollectivesBase
{
    sealed class Hub(int size)
    {
        public readonly Barrier Barrier = new(size);
        public readonly Tensor?[] Slots = new Tensor?[size];
    }

    readonly Hub _hub;

    /// <summary>How long a rank waits for the others at a collective before it gives up (one of them failed).</summary>
    public static TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    void Meet()
    {
        if (!_hub.Barrier.SignalAndWait(Timeout))
            throw new TimeoutException($"Rank {Rank} waited {Timeout.TotalSeconds:F0} s for the other ranks at a collective; one of them stopped or called another operation.");
    }

    ThreadCollectives(Hub hub, int rank) => (_hub, Rank) = (hub, rank);

    /// <summary>A group of <paramref name="worldSize"/> ranks: element r is rank r's.</summary>
    public static ThreadCollectives[] Create(int worldSize)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "A group has at least one rank.");
        var hub = new Hub(worldSize);
        return Enumerable.Range(0, worldSize).Select(r => new ThreadCollectives(hub, r)).ToArray();
    }

    /// <inheritdoc/>
    public override int Rank { get; }
    /// <inheritdoc/>
    public override int WorldSize => _hub.Slots.Length;

    /// <summary>
    /// Every rank shows its tensor, then computes its result from all of them (read only), then — once all have read —
    /// writes it. <paramref name="result"/> gets the ranks' tensors in rank order and returns what this rank's tensor
    /// becomes, or null to keep it.
    /// </summary>
    void Exchange(Tensor mine, Tensor target, Func<Tensor[], Tensor?> result)
    {
        _hub.Slots[Rank] = mine;
        Meet();
        Tensor? value;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            value = result(_hub.Slots.Select(t => t!).ToArray())?.to(target.device).DetachFromDisposeScope();
        }
        Meet();
        if (value is not null)
        {
            using (no_grad()) target.copy_(value.reshape(target.shape));
            value.Dispose();
        }
        Meet();
        _hub.Slots[Rank] = null;
    }

    static Tensor Combine(Tensor[] all, ReduceOp op)
    {
        using var kept = KeptScalars.Rent();
        var result = all[0].to(all[0].device, copy: true);
        for (int r = 1; r < all.Length; r++)
            result = op == ReduceOp.Max ? result.maximum(all[r].to(result.device)) : result.Plus(all[r].to(result.device));
        return op == ReduceOp.Average ? result.div(kept[all.Length]) : result;
    }

    /// <inheritdoc/>
    protected override void RunAllReduce(Tensor tensor, ReduceOp op) => Exchange(tensor, tensor, all => Combine(all, op));

    /// <inheritdoc/>
    protected override void RunReduce(Tensor tensor, int root, ReduceOp op) => Exchange(tensor, tensor, all => Rank == root ? Combine(all, op) : null);

    /// <inheritdoc/>
    protected override void RunBroadcast(Tensor tensor, int root) => Exchange(tensor, tensor, all => Rank == root ? null : all[root].clone());

    /// <inheritdoc/>
    protected override void RunReduceScatter(Tensor input, Tensor output, ReduceOp op) =>
        Exchange(input, output, all =>
        {
            long n = output.NumberOfElements;
            return Combine(all.Select(t => t.reshape(-1).narrow(0, Rank * n, n)).ToArray(), op);
        });

    /// <inheritdoc/>
    protected override void RunAllGather(Tensor input, Tensor output) =>
        Exchange(input, output, all => torch.cat(all.Select(t => t.reshape(-1).to(output.device)).ToArray()));

    /// <inheritdoc/>
    public override void Group(Action operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        operations();
    }

    /// <inheritdoc/>
    public override void Dispose() { }
}
