using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Distributed;

/// <summary>
/// ZeRO stage 1 for any optimizer whose rule acts tensor by tensor (every declared optimizer without global sums): the
/// parameter tensors are split, in order, into one contiguous run per rank of about equal element count; each rank keeps
/// the optimizer state of its run only. A step sums every gradient into its owner (one grouped reduce per tensor: a
/// reduce-scatter whose shards are whole tensors, so no flat copy of the gradients is needed and rules that look at a
/// whole tensor — Adafactor's factors, Muon's orthogonalisation, LAMB's trust ratio — stay exact), the owner runs its
/// optimizer (the generated fused step on CUDA) on its run, and every tensor is broadcast from its owner (an all-gather
/// of the runs, again written straight into the parameters).
/// <para>
/// Every rank calls <see cref="Step"/> after its own backward; gradients are averaged over ranks, so with equal local
/// batches the step is the single-process step on the whole batch.
/// </para>
/// </summary>
public sealed class ShardedOptimizer : IStateMemory, IDisposable
{
    readonly Parameter[] _parameters;
    readonly int[] _owner;
    readonly ICollectives _collectives;

    /// <param name="parameters">Every parameter, the same list in the same order on every rank.</param>
    /// <param name="createOptimizer">Makes this rank's optimizer over the parameters it owns (never called with none).</param>
    /// <param name="collectives">The group.</param>
    public ShardedOptimizer(IEnumerable<Parameter> parameters, Func<IReadOnlyList<Parameter>, optim.Optimizer> createOptimizer, ICollectives collectives)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(createOptimizer);
        _collectives = collectives ?? throw new ArgumentNullException(nameof(collectives));
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("No parameters to shard.", nameof(parameters));
        if (_parameters.FirstOrDefault(p => !p.is_contiguous()) is { } strided)
            throw new ArgumentException($"A parameter of shape [{string.Join(", ", strided.shape)}] is not contiguous; collectives write parameters in place.", nameof(parameters));
        _owner = Partition(_parameters.Select(p => p.NumberOfElements).ToArray(), collectives.WorldSize);
        Owned = _parameters.Where((_, i) => _owner[i] == collectives.Rank).ToArray();
        if (Owned.Count > 0)
        {
            Local = createOptimizer(Owned) ?? throw new InvalidOperationException("createOptimizer returned null.");
            var handed = Local.parameters().ToList();
            if (handed.Count != Owned.Count) throw new InvalidOperationException($"The optimizer made for rank {collectives.Rank}'s {Owned.Count} parameters has {handed.Count}.");
            if (Local is DeclaredOptimizer { ReducesAcrossTensors: true } declared)
                throw new NotSupportedException(
                    $"{declared.Spec.Name}'s rule sums over every tensor of a step (Reduce.GlobalSum and kin); on a shard that sum would cover the shard only. Run it unsharded.");
        }
    }

    /// <summary>The parameters whose state this rank keeps, in order.</summary>
    public IReadOnlyList<Parameter> Owned { get; }

    /// <summary>This rank's optimizer over <see cref="Owned"/> (null for a rank that owns none: more ranks than tensors).</summary>
    public optim.Optimizer? Local { get; }

    /// <summary>The rank that owns parameter <paramref name="index"/> (in the order given).</summary>
    public int OwnerOf(int index) => _owner[index];

    /// <summary>This rank's optimizer state on the device: about 1/WorldSize of the unsharded optimizer's.</summary>
    public long StateBytes => (Local as IStateMemory)?.StateBytes ?? 0;

    /// <summary>
    /// Splits tensors of <paramref name="sizes"/> elements, in order, into <paramref name="ranks"/> contiguous runs: rank r
    /// takes the tensors whose middle element falls in the r-th equal share of all elements.
    /// </summary>
    internal static int[] Partition(long[] sizes, int ranks)
    {
        double total = sizes.Sum();
        var owner = new int[sizes.Length];
        long before = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            double middle = before + sizes[i] / 2.0;
            owner[i] = Math.Min(ranks - 1, (int)(middle * ranks / total));
            before += sizes[i];
        }
        return owner;
    }

    /// <summary>
    /// One step: gradients averaged into their owners, the owners' optimizers step, parameters broadcast from their
    /// owners. A non-finite gradient on any rank makes every rank throw before any state or parameter changes.
    /// </summary>
    public void Step()
    {
        using (no_grad())
        {
            foreach (var p in _parameters) p.grad ??= torch.zeros_like(p).DetachFromDisposeScope();
            _collectives.Group(() =>
            {
                for (int i = 0; i < _parameters.Length; i++) _collectives.Reduce(_parameters[i].grad!, _owner[i], ReduceOp.Average);
            });
            // One flag per step, all ranks agreeing: 1 where an owned gradient is not finite.
            bool finite = Owned.Count == 0 || Portable.Finite.All(Owned.Select(p => p.grad!));
            using var bad = torch.full(1, finite ? 0f : 1f, device: _parameters[0].device);
            _collectives.AllReduce(bad, ReduceOp.Max);
            if (bad.item<float>() > 0)
                throw new InvalidOperationException("ZeRO-1 step: a gradient summed over the ranks is not finite; no rank changed its parameters or state.");
        }
        Local?.step();
        using (no_grad())
            _collectives.Group(() =>
            {
                for (int i = 0; i < _parameters.Length; i++) _collectives.Broadcast(_parameters[i], _owner[i]);
            });
    }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        using (no_grad())
            foreach (var p in _parameters) p.grad?.zero_();
    }

    /// <summary>Disposes this rank's optimizer.</summary>
    public void Dispose() => Local?.Dispose();
}
