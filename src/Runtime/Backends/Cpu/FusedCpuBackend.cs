using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>The generated fused CPU loop, for float32 CPU parameters whose state is not kept in 8 bits.</summary>
internal sealed class FusedCpuBackend(CpuUpdate update) : IUpdateBackend
{
    readonly FusedCpuRunner _runner = new();
    bool _used;

    /// <summary>The registry's entry: a backend for a rule with fused code.</summary>
    public static IUpdateBackend? For(UpdateRule rule) => rule.Cpu is { } cpu ? new FusedCpuBackend(cpu) : null;

    /// <inheritdoc/>
    public bool Fused => true;

    /// <inheritdoc/>
    public bool ScalesGradients => false;

    /// <inheritdoc/>
    public string? Report => _used ? _runner.Report : null;

    /// <inheritdoc/>
    /// <remarks>8-bit state: the CUDA kernel reads and writes it; the CPU loop does not (the portable update runs).</remarks>
    public bool Accepts(in UpdateItem item) =>
        item.Quantized is not { Any: true } && FusedCpuRunner.Accepts(item.Parameter) && FusedCpuRunner.Accepts(item.Gradient)
        && Array.TrueForAll(item.States, s => s is null || FusedCpuRunner.Accepts(s));

    /// <inheritdoc/>
    public string? Prepare(in UpdateItem item)
    {
        _used = true;
        return null;
    }

    /// <inheritdoc/>
    public void Add(in UpdateItem item) => _runner.Add(item.Parameter, item.Gradient, item.States, item.Scalars);

    /// <inheritdoc/>
    public void Run(GradientFactor factor) => _runner.Run(update);

    /// <inheritdoc/>
    public void EndStep() => _runner.Clear();
}
