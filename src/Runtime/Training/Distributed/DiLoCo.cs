using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// DiLoCo (Douillard et al., 2023): every rank trains its own replica with any inner optimizer and talks to the others
/// only every H steps, when the pseudo-gradient Δ = θ_global − θ_local is averaged over ranks (one all-reduce) and an
/// outer Nesterov step moves the shared weights: <c>b ← μ b + Δ̄</c>, <c>θ_global ← θ_global − η (Δ̄ + μ b)</c>; every
/// replica then restarts from θ_global. Inner optimizer state stays local. With <c>fragments</c> &gt; 1 it is streaming
/// DiLoCo (Douillard et al., 2025): the parameters are cut into that many contiguous fragments of about equal size, and
/// fragment f is synchronised at the inner steps t with (t + f·H/F) mod H = 0, so that each synchronisation moves a
/// fraction of the model and they are spread over the period.
/// </summary>
public sealed class DiLoCo : IDisposable
{
    readonly Parameter[] _parameters;
    readonly optim.Optimizer _inner;
    readonly ICollectives _collectives;
    readonly int[] _fragment;
    readonly Tensor[] _global, _momentum;

    /// <param name="parameters">The replica's parameters, the same list on every rank (rank 0's values are broadcast).</param>
    /// <param name="inner">The rank's own optimizer over them.</param>
    /// <param name="collectives">The group.</param>
    /// <param name="syncEvery">H, inner steps between two synchronisations of a fragment.</param>
    /// <param name="outerLearningRate">η of the outer Nesterov step (0.7 in the paper).</param>
    /// <param name="outerMomentum">μ of the outer Nesterov step (0.9 in the paper).</param>
    /// <param name="fragments">F, the number of fragments synchronised at staggered steps (1: plain DiLoCo).</param>
    public DiLoCo(IEnumerable<Parameter> parameters, optim.Optimizer inner, ICollectives collectives, int syncEvery,
        double outerLearningRate = 0.7, double outerMomentum = 0.9, int fragments = 1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _collectives = collectives ?? throw new ArgumentNullException(nameof(collectives));
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("No parameters.", nameof(parameters));
        if (syncEvery < 1) throw new ArgumentOutOfRangeException(nameof(syncEvery), syncEvery, "H must be at least 1.");
        if (!(outerLearningRate > 0) || double.IsInfinity(outerLearningRate)) throw new ArgumentOutOfRangeException(nameof(outerLearningRate), outerLearningRate, "η must be positive and finite.");
        if (!(outerMomentum >= 0 && outerMomentum < 1)) throw new ArgumentOutOfRangeException(nameof(outerMomentum), outerMomentum, "μ must be in [0, 1).");
        if (fragments < 1 || fragments > Math.Min(_parameters.Length, syncEvery))
            throw new ArgumentOutOfRangeException(nameof(fragments), fragments, $"1 to min(parameter tensors, H) = {Math.Min(_parameters.Length, syncEvery)} fragments.");
        if (_parameters.FirstOrDefault(p => !p.is_contiguous()) is { } strided)
            throw new ArgumentException($"A parameter of shape [{string.Join(", ", strided.shape)}] is not contiguous; collectives write parameters in place.", nameof(parameters));
        (SyncEvery, OuterLearningRate, OuterMomentum, Fragments) = (syncEvery, outerLearningRate, outerMomentum, fragments);
        _fragment = ShardedOptimizer.Partition(_parameters.Select(p => p.NumberOfElements).ToArray(), fragments);
        using (no_grad())
        {
            _collectives.Group(() => { foreach (var p in _parameters) _collectives.Broadcast(p, 0); });
            _global = _parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
            _momentum = _parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope()).ToArray();
        }
    }

    /// <summary>H.</summary>
    public int SyncEvery { get; }
    /// <summary>η.</summary>
    public double OuterLearningRate { get; }
    /// <summary>μ.</summary>
    public double OuterMomentum { get; }
    /// <summary>F.</summary>
    public int Fragments { get; }
    /// <summary>Inner steps taken.</summary>
    public long InnerSteps { get; private set; }
    /// <summary>Fragment synchronisations done (F per period once all have started).</summary>
    public long Synchronisations { get; private set; }

    /// <summary>The inner step at which fragment <paramref name="fragment"/> is synchronised, counting from 1, is due when this is 0.</summary>
    int Phase(long step, int fragment) => (int)((step + (long)fragment * SyncEvery / Fragments) % SyncEvery);

    /// <summary>One inner step, then the outer step of every fragment due.</summary>
    public void Step()
    {
        _inner.step();
        InnerSteps++;
        for (int f = 0; f < Fragments; f++)
            if (Phase(InnerSteps, f) == 0) Synchronise(f);
    }

    void Synchronise(int fragment)
    {
        using var kept = KeptScalars.Rent();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var members = Enumerable.Range(0, _parameters.Length).Where(i => _fragment[i] == fragment).ToArray();
        var deltas = members.Select(i => _global[i].sub(_parameters[i])).ToArray();
        _collectives.Group(() => { foreach (var d in deltas) _collectives.AllReduce(d, ReduceOp.Average); });
        for (int k = 0; k < members.Length; k++)
        {
            int i = members[k];
            _momentum[i].mul_(kept[OuterMomentum]).Plus_(deltas[k]);
            _global[i].sub_(deltas[k].add(_momentum[i], alpha: kept[OuterMomentum]).mul(kept[OuterLearningRate]));
            _parameters[i].copy_(_global[i]);
        }
        Synchronisations++;
    }

    /// <summary>Bytes of DiLoCo's own state (θ_global and the outer momentum) on the device.</summary>
    public long StateBytes => _global.Concat(_momentum).Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Frees θ_global and the outer momentum.</summary>
    public void Dispose()
    {
        foreach (var t in _global.Concat(_momentum)) t.Dispose();
    }
}
