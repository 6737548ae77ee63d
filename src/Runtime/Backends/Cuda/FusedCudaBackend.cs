using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using OptDsl.Runtime.Services;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The generated fused CUDA kernel, for contiguous float32, bfloat16 and float16 CUDA parameters (float32 state, or
/// 8-bit state the kernel reads and writes itself): the step's items are launched together at <see cref="Run"/>, one
/// batch per device, type, 8-bit layout and set of host scalars. Built at first use with NVRTC; where that cannot happen
/// (no driver, no NVRTC), it says why once and every later item goes to the portable backend.
/// </summary>
internal sealed class FusedCudaBackend(CudaKernel kernel) : IUpdateBackend
{
    FusedCudaLauncher? _launcher;
    string? _unavailable;
    // The device and type the kernel was last made ready for this step.
    (int Device, ParamKind Kind) _prepared = NotPrepared;
    readonly List<UpdateItem> _items = new();

    static readonly (int, ParamKind) NotPrepared = (-1, ParamKind.Float32);

    /// <summary>The registry's entry: a backend for a rule with fused code.</summary>
    /// <remarks>Rules with reductions run their phases on the CPU only so far; on CUDA the portable path runs them.</remarks>
    public static IUpdateBackend? For(UpdateRule rule) => rule.Kernel is { Reductions: null } kernel ? new FusedCudaBackend(kernel) : null;

    /// <inheritdoc/>
    public bool Fused => true;

    /// <inheritdoc/>
    /// <remarks>The kernel reads the factor on the device: the gradients are never written.</remarks>
    public bool ScalesGradients => true;

    /// <inheritdoc/>
    public string? Report => _launcher?.Report ?? _unavailable;

    /// <inheritdoc/>
    public bool Accepts(in UpdateItem item) =>
        FusedCudaLauncher.Accepts(item.Parameter) && FusedCudaLauncher.Accepts(item.Gradient)
        && Array.TrueForAll(item.States, s => s is null || FusedCudaLauncher.AcceptsState(s));

    /// <inheritdoc/>
    /// <remarks>Prepares the kernel once per device and type a step.</remarks>
    public string? Prepare(in UpdateItem item)
    {
        if (_unavailable is not null) return _unavailable;
        var target = (item.Parameter.device_index, FusedCudaLauncher.KindOf(item.Parameter.dtype)!.Value);
        if (target == _prepared) return null;
        string? why = null;
        try
        {
            _launcher ??= FusedCudaLauncher.TryCreate(kernel, out why);
            _launcher?.Prepare(target.Item1, target.Item2);
        }
        catch (InvalidOperationException e)
        {
            _launcher = null;
            why = e.Message;
        }
        if (_launcher is not null)
        {
            _prepared = target;
            return null;
        }
        return _unavailable = $"the fused CUDA path is unavailable: {why}; CUDA parameters use the portable path";
    }

    /// <inheritdoc/>
    public void Add(in UpdateItem item) => _items.Add(item);

    /// <summary>Launches the kernel over the items: one batch per device, type, 8-bit layout and set of scalars.</summary>
    public void Run(GradientFactor factor)
    {
        var items = CollectionsMarshal.AsSpan(_items);
        for (int start = 0; start < items.Length;)
        {
            int end = start + 1;
            var first = items[start];
            while (end < items.Length && items[end].Parameter.device_index == first.Parameter.device_index
                   && items[end].Parameter.dtype == first.Parameter.dtype
                   && QuantizedMask(items[end]) == QuantizedMask(first)
                   && items[end].Scalars.AsSpan().SequenceEqual(first.Scalars))
                end++;
            var scale = factor.IsSet ? TensorAddress.Of(factor.On(first.Parameter.device, float32: true)) : IntPtr.Zero;
            _launcher!.Launch(items[start..end], first.Scalars, scale);
            start = end;
        }
    }

    /// <inheritdoc/>
    public void EndStep()
    {
        _items.Clear();
        _prepared = NotPrepared;
    }

    /// <summary>Bit k set: state k is kept in 8 bits (the kernel's variant).</summary>
    internal static int QuantizedMask(in UpdateItem item) => item.Quantized?.Mask ?? 0;
}
