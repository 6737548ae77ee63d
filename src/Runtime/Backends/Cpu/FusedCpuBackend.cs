using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// The generated fused CPU loop, for float32 CPU parameters whose state is not kept in 8 bits: one pass, or for a rule
/// with reductions one pass per phase.
/// </summary>
internal sealed class FusedCpuBackend : IUpdateBackend
{
    readonly FusedCpuRunner _runner;
    readonly CpuUpdate? _update;
    readonly CpuPhase? _phases;
    readonly ReductionPlan? _plan;
    readonly HostStage? _host;
    bool _used;

    FusedCpuBackend(CpuUpdate? update, CpuPhase? phases, ReductionPlan? plan, HostStage? host)
    {
        (_update, _phases, _plan, _host) = (update, phases, plan, host);
        _runner = new FusedCpuRunner(plan);
    }

    /// <summary>The registry's entry: a backend for a rule with fused code.</summary>
    public static IUpdateBackend? For(UpdateRule rule) =>
        rule.Cpu is { } cpu ? new FusedCpuBackend(cpu, null, null, null)
        : rule.CpuPhases is { } phases && rule.Kernel?.Reductions is { } plan ? new FusedCpuBackend(null, phases, plan, rule.Host)
        : null;

    /// <inheritdoc/>
    public bool Fused => true;

    /// <inheritdoc/>
    public bool ScalesGradients => false;

    /// <inheritdoc/>
    public string? Report => _used ? _runner.Report + (_quantized ? "; 8-bit state expanded per chunk" : "") + (_plan is null ? "" : $"; {_plan.Phases} phases (reductions in passes of their own)"
        + (_plan.CrossesTensors ? "; reductions over the step's or group's tensors" : "") + (_plan.RowWise ? "; row by row, in chunks of whole rows" : "") + (_plan.HostReadsResults ? "; scalar state from reductions, on the host after each phase" : "")) : null;

    /// <inheritdoc/>
    /// <remarks>8-bit state is expanded per chunk into float32 scratch and packed back after the update (<see cref="CpuBlockCodec"/>).</remarks>
    /// <remarks>A rule with work per row or column takes parameters of one dimension or more, not empty, with float32 state (<see cref="RowView.Accepts"/>).</remarks>
    public bool Accepts(in UpdateItem item) =>
        FusedCpuRunner.Accepts(item.Parameter) && FusedCpuRunner.Accepts(item.Gradient)
        && Array.TrueForAll(item.States, s => s is null || FusedCpuRunner.Accepts(s))
        && (_plan is not { RowWise: true } || (RowView.Accepts(item.Parameter) && item.Quantized is not { Any: true }));

    /// <inheritdoc/>
    public string? Prepare(in UpdateItem item)
    {
        _used = true;
        return null;
    }

    /// <inheritdoc/>
    public void Add(in UpdateItem item)
    {
        if (item.Quantized is { Any: true }) _quantized = true;
        _runner.Add(item.Parameter, item.Gradient, item.States, item.Scalars, item.Index, item.Group, item.Quantized);
    }

    // Whether a step has had 8-bit state, for the report.
    bool _quantized;

    /// <inheritdoc/>
    public void Run(GradientFactor factor)
    {
        if (_plan is null) _runner.Run(_update!);
        else _runner.Run(_phases!, _plan, _host);
    }

    /// <inheritdoc/>
    public void EndStep() => _runner.Clear();
}
