using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// ZeRO stage 1 for any optimizer whose rule acts tensor by tensor (every declared optimizer without global sums): the
/// parameter tensors are split, in order, into one contiguous run per rank of about equal element count; each rank keeps
/// the optimizer state of its run only. The gradients live in one flat buffer laid out run after run (each run padded to
/// the longest), the parameters' <c>.grad</c> being views of it, so backward accumulates straight into it. A step
/// reduce-scatters the buffer in place (each rank receives the averaged gradients of its own run: whole tensors, so rules
/// that look at a whole tensor — Adafactor's factors, Muon's orthogonalisation, LAMB's trust ratio — stay exact), runs
/// its optimizer (the generated fused step on CUDA) on its run, writes the run's new values into its part of the buffer,
/// all-gathers the buffer in place and copies the other runs into their parameters, then zeroes the buffer: the
/// gradients for the next backward.
/// <para>
/// Every rank calls <see cref="Step"/> after its own backward; gradients are averaged over ranks, so with equal local
/// batches the step is the single-process step on the whole batch. The bytes on the wire are an all-reduce's.
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

    /// <summary>
    /// What a step does when an averaged gradient is not finite: <see cref="NonFiniteGradients.Update"/> (the default: no
    /// check, no host synchronisation), <see cref="NonFiniteGradients.Skip"/> (every rank skips the step) or
    /// <see cref="NonFiniteGradients.Throw"/> (every rank throws before anything changes). The owners check their runs and
    /// agree through one all-reduce of a flag.
    /// </summary>
    public NonFiniteGradients NonFiniteGradients { get; set; } = NonFiniteGradients.Update;

    /// <summary>Steps skipped under <see cref="NonFiniteGradients.Skip"/>.</summary>
    public long SkippedSteps { get; private set; }

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

    Tensor? _flat, _mine;
    Tensor[]? _views;
    long[]? _offsets;
    long _run;

    /// <summary>The flat gradient buffer and each parameter's offset in it, made at the first step on the parameters' device.</summary>
    Tensor Flat()
    {
        if (_flat is not null) return _flat;
        var first = _parameters[0];
        if (_parameters.FirstOrDefault(p => p.dtype != first.dtype || !Devices.Same(p.device, first.device)) is { } other)
            throw new NotSupportedException($"ZeRO-1 keeps one gradient buffer: every parameter must be {first.dtype} on {first.device}; one is {other.dtype} on {other.device}.");
        int ranks = _collectives.WorldSize;
        var lengths = new long[ranks];
        for (int i = 0; i < _parameters.Length; i++) lengths[_owner[i]] += _parameters[i].NumberOfElements;
        _run = Math.Max(1, lengths.Max());
        _offsets = new long[_parameters.Length];
        var next = Enumerable.Range(0, ranks).Select(r => r * _run).ToArray();
        for (int i = 0; i < _parameters.Length; i++)
        {
            _offsets[i] = next[_owner[i]];
            next[_owner[i]] += _parameters[i].NumberOfElements;
        }
        _flat = torch.zeros(ranks * _run, first.dtype, first.device).DetachFromDisposeScope();
        _mine = _flat.narrow(0, _collectives.Rank * _run, _run).DetachFromDisposeScope();
        _views = Enumerable.Range(0, _parameters.Length).Select(i => View(i).DetachFromDisposeScope()).ToArray();
        return _flat;
    }

    /// <summary>Gradients that were not views of the buffer at a step and were copied in (each parameter's first, then none while backward accumulates into the views).</summary>
    public long CopiedGradients { get; private set; }

    Tensor View(int i) => _flat!.narrow(0, _offsets![i], _parameters[i].NumberOfElements).view(_parameters[i].shape);

    /// <summary>
    /// One step: gradients averaged into their owners, the owners' optimizers step, parameters gathered from their
    /// owners; the gradients are left zeroed. Non-finite gradients: see <see cref="NonFiniteGradients"/>.
    /// </summary>
    public void Step()
    {
        using var kept = KeptScalars.Rent();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var flat = Flat();
            // Gradients the caller replaced (a zero_grad that set them to none, say) are copied in and re-pointed.
            long origin = (long)TensorAddress.Of(flat);
            for (int i = 0; i < _parameters.Length; i++)
            {
                var p = _parameters[i];
                long expected = origin + _offsets![i] * flat.ElementSize;
                if (p.grad is { } g && (long)TensorAddress.Of(g) == expected) continue;
                CopiedGradients++;
                var view = View(i);
                if (p.grad is { } replaced) view.copy_(replaced);
                else view.zero_();
                p.grad = view.DetachFromDisposeScope();
            }
            _collectives.ReduceScatter(flat, _mine!, ReduceOp.Average);
            if (NonFiniteGradients != NonFiniteGradients.Update)
            {
                // One flag per step, all ranks agreeing: 1 where an owned gradient is not finite.
                bool finite = Owned.Count == 0 || Backends.Portable.Finite.All(Owned.Select(p => p.grad!));
                var bad = torch.full(1, kept[finite ? 0f : 1f], device: flat.device);
                _collectives.AllReduce(bad, ReduceOp.Max);
                if (bad.item<float>() > 0)
                {
                    flat.zero_();
                    if (NonFiniteGradients == NonFiniteGradients.Skip)
                    {
                        SkippedSteps++;
                        return;
                    }
                    throw new InvalidOperationException("ZeRO-1 step: a gradient averaged over the ranks is not finite; no rank changed its parameters or state.");
                }
            }
        }
        Local?.step();
        using (no_grad())
        {
            for (int i = 0; i < _parameters.Length; i++)
                if (_owner[i] == _collectives.Rank) _views![i].copy_(_parameters[i]);
            _collectives.AllGather(_mine!, _flat!);
            for (int i = 0; i < _parameters.Length; i++)
                if (_owner[i] != _collectives.Rank) _parameters[i].copy_(_views![i]);
            _flat!.zero_();
        }
    }

    /// <summary>Zeroes every parameter's gradient (<see cref="Step"/> leaves them zeroed already).</summary>
    public void ZeroGrad()
    {
        using (no_grad())
            foreach (var p in _parameters) p.grad?.zero_();
    }

    /// <summary>Disposes this rank's optimizer and the gradient buffer (the parameters' gradients are views of it: they are dropped).</summary>
    public void Dispose()
    {
        Local?.Dispose();
        if (_flat is null) return;
        foreach (var p in _parameters) p.grad = null;
        foreach (var v in _views!) v.Dispose();
        _mine!.Dispose();
        _flat.Dispose();
    }
}
