using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Services;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The generated fused CUDA kernel, for contiguous float32, bfloat16 and float16 CUDA parameters (float32 state, or
/// 8-bit state the kernel reads and writes itself): the step's items are launched together at <see cref="Run"/>, one
/// batch per device, type, 8-bit layout and set of host scalars. Built at first use with NVRTC; where that cannot happen
/// (no driver, no NVRTC), it says why once and every later item goes to the portable backend.
/// </summary>
internal sealed class FusedCudaBackend(CudaKernel kernel, HostStage? host = null) : IUpdateBackend
{
    FusedCudaLauncher? _launcher;
    string? _unavailable;
    // The device and type the kernel was last made ready for this step.
    (int Device, ParamKind Kind) _prepared = NotPrepared;
    readonly List<UpdateItem> _items = new();

    static readonly (int, ParamKind) NotPrepared = (-1, ParamKind.Float32);

    /// <summary>The registry's entry: a backend for a rule with fused code.</summary>
    public static IUpdateBackend? For(UpdateRule rule) => rule.Kernel is { } kernel ? new FusedCudaBackend(kernel, rule.Host) : null;

    /// <inheritdoc/>
    public bool Fused => true;

    /// <inheritdoc/>
    /// <remarks>The kernel reads the factor on the device: the gradients are never written.</remarks>
    public bool ScalesGradients => true;

    /// <inheritdoc/>
    public string? Report => _launcher?.Report ?? _unavailable;

    /// <inheritdoc/>
    /// <remarks>The phases of a rule with reductions do not read 8-bit state (yet): such items take the portable path.
    /// The kernel that reads 8-bit state rounds to nearest: items that round otherwise and keep 8-bit state take the portable path too.</remarks>
    public bool Accepts(in UpdateItem item) =>
        ((kernel.Reductions is null && item.RoundingKey is null && item.Compensation is null) || QuantizedMask(item) == 0)
        && FusedCudaLauncher.Accepts(item.Parameter) && FusedCudaLauncher.Accepts(item.Gradient)
        && (item.Compensation is null || FusedCudaLauncher.Accepts(item.Compensation))
        && Array.TrueForAll(item.States, s => s is null || FusedCudaLauncher.AcceptsState(s))
        && (kernel.Reductions is not { RowWise: true } || RowView.Accepts(item.Parameter));

    /// <inheritdoc/>
    /// <remarks>Prepares the kernel once per device and type a step.</remarks>
    public string? Prepare(in UpdateItem item)
    {
        if (_unavailable is not null) return _unavailable;
        if (kernel.Reductions is { RowWise: true } rows && (rows.ColumnWork || MultiTensorLayout.CombinesOnHost(rows)))
            return _unavailable = (rows.ColumnWork ? "column work (state per column, Matrix.Column*)" : "row work in a rule whose reductions the host combines")
                + " is fused on the CPU only so far; CUDA parameters use the portable path";
        var target = (item.Parameter.device_index, FusedCudaLauncher.KindOf(item));
        if (target == _prepared) return null;
        string? why = null;
        try
        {
            _launcher ??= FusedCudaLauncher.TryCreate(kernel, out why);
            // Every phase's kernel is built now, so that a failure sends the item to the portable path before any runs.
            for (int phase = kernel.Reductions?.Phases ?? 1; phase >= 1; phase--) _launcher?.Prepare(target.Item1, target.Item2, 0, phase);
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

    /// <summary>
    /// Launches the kernel over the items: one batch per device, type, 8-bit layout and set of scalars; for a rule with
    /// reductions, every batch phase after phase, each chunk's partials at its place in the step's buffer on its device.
    /// </summary>
    public void Run(GradientFactor factor)
    {
        if (kernel.Reductions is not { } plan)
        {
            RunPhase(factor, 1);
            return;
        }
        var items = CollectionsMarshal.AsSpan(_items);
        if (_firstChunks.Length < items.Length)
        {
            _firstChunks = new int[Math.Max(items.Length, 2 * _firstChunks.Length)];
            _rowBases = new int[_firstChunks.Length];
        }
        _chunksByDevice.Clear();
        _rowsByDevice.Clear();
        for (int i = 0; i < items.Length; i++)
        {
            int device = items[i].Parameter.device_index;
            _chunksByDevice.TryGetValue(device, out int used);
            _firstChunks[i] = used;
            long n = items[i].Parameter.NumberOfElements;
            _chunksByDevice[device] = used + MultiTensorLayout.ChunksOf(items[i].Parameter, n, plan.RowWise);
            if (!plan.RowWise) continue;
            // Each tensor's rows at their place in its device's buffer of values per row.
            _rowsByDevice.TryGetValue(device, out int rows);
            _rowBases[i] = rows;
            _rowsByDevice[device] = rows + (int)items[i].Parameter.size(0);
        }
        foreach (var (device, rows) in _rowsByDevice)
        {
            if (_perRow.TryGetValue(device, out var buffer) && buffer.NumberOfElements >= (long)rows * plan.Reductions.Length) continue;
            buffer?.Dispose();
            _perRow[device] = TorchSharp.torch.empty((long)Math.Max(rows, 1) * Math.Max(plan.Reductions.Length, 1), TorchSharp.torch.ScalarType.Float32,
                items[FirstOn(items, device)].Parameter.device).DetachFromDisposeScope();
        }
        foreach (var (device, chunks) in _chunksByDevice)
        {
            if (_partials.TryGetValue(device, out var buffer) && buffer.NumberOfElements >= (long)chunks * plan.Reductions.Length) continue;
            buffer?.Dispose();
            var first = items[FirstOn(items, device)].Parameter;
            // Kept between steps (the capacity only grows): no allocation per step once the largest has run.
            _partials[device] = TorchSharp.torch.empty((long)Math.Max(chunks, 1) * Math.Max(plan.Reductions.Length, 1), TorchSharp.torch.ScalarType.Float32,
                first.device).DetachFromDisposeScope();
        }
        if (plan.Matrices.Length > 0) _matrices.Prepare(items, plan.Matrices);
        _onHost = MultiTensorLayout.CombinesOnHost(plan);
        int slots = Math.Max(1, kernel.ScalarCount);
        if (_onHost)
        {
            _hostCombined.BeginStep(items, plan.Reductions.Length);
            _hostCombined.UploadScalars(items, _firstChunks.AsSpan(0, items.Length), _partials, plan.Reductions.Length, slots);
        }
        try
        {
            for (int phase = 1; phase <= plan.Phases; phase++)
            {
                // A phase with nothing to reduce or store this step (its reductions' host conditions all false) is skipped.
                if (phase < plan.Phases && !AnyNeeds(plan, phase)) continue;
                RunPhase(factor, phase);
                if (_onHost && phase < plan.Phases)
                {
                    var span = CollectionsMarshal.AsSpan(_items);
                    _hostCombined.Combine(plan, phase, span, _firstChunks, _partials, host);
                    // The host half has set this phase's scalars (and scalar state) anew.
                    if (plan.HostReadsResults) _hostCombined.UploadScalars(span, _firstChunks.AsSpan(0, span.Length), _partials, plan.Reductions.Length, slots);
                }
                // Between phases, the matrices this phase stored are orthogonalised (batched per shape), on the same stream.
                for (int j = 0; j < plan.Matrices.Length; j++)
                    if (plan.Matrices[j].Level == phase) _matrices.Orthogonalize(j);
            }
        }
        finally
        {
            _matrices.EndStep();
        }
    }

    readonly CudaMatrices _matrices = new();

    bool AnyNeeds(ReductionPlan plan, int phase)
    {
        foreach (var item in _items) if (plan.Needs(phase, item.Scalars)) return true;
        return false;
    }
    readonly HostCombinedReductions _hostCombined = new();
    // Whether this step's reductions are combined on the host (so each tensor's scalars are read from a device buffer).
    bool _onHost;

    static int FirstOn(ReadOnlySpan<UpdateItem> items, int device)
    {
        for (int i = 0; i < items.Length; i++) if (items[i].Parameter.device_index == device) return i;
        return 0;
    }

    int[] _firstChunks = Array.Empty<int>(), _rowBases = Array.Empty<int>();
    readonly Dictionary<int, int> _chunksByDevice = new(), _rowsByDevice = new();
    // Per device, for a rule with work per row: each reduction's values per row of the step's tensors (kept between steps).
    readonly Dictionary<int, TorchSharp.torch.Tensor> _perRow = new();
    readonly Dictionary<int, TorchSharp.torch.Tensor> _partials = new();

    void RunPhase(GradientFactor factor, int phase)
    {
        var items = CollectionsMarshal.AsSpan(_items);
        for (int start = 0; start < items.Length;)
        {
            int end = start + 1;
            var first = items[start];
            while (end < items.Length && items[end].Parameter.device_index == first.Parameter.device_index
                   && FusedCudaLauncher.KindOf(items[end]) == FusedCudaLauncher.KindOf(first)
                   && QuantizedMask(items[end]) == QuantizedMask(first)
                   && (_onHost || items[end].Scalars.AsSpan().SequenceEqual(first.Scalars)))
                end++;
            var scale = factor.IsSet ? TensorAddress.Of(factor.On(first.Parameter.device, float32: true)) : IntPtr.Zero;
            if (kernel.Reductions is { } plan)
            {
                var partials = _partials[first.Parameter.device_index];
                int capacity = (int)(partials.NumberOfElements / Math.Max(plan.Reductions.Length, 1));
                var rows = plan.RowWise && _perRow.TryGetValue(first.Parameter.device_index, out var perRow)
                    ? (_rowBases.AsMemory(start, end - start), TensorAddress.Of(perRow), (int)(perRow.NumberOfElements / Math.Max(plan.Reductions.Length, 1)))
                    : default((ReadOnlyMemory<int>, IntPtr, int));
                _launcher!.Launch(items[start..end], first.Scalars, scale, phase, _firstChunks.AsSpan(start, end - start), TensorAddress.Of(partials), capacity,
                    plan.Matrices.Length > 0 ? _matrices.Pointers(start, end - start) : default,
                    _onHost ? _hostCombined.ScalarsOn(first.Parameter.device_index) : IntPtr.Zero, rows);
            }
            else _launcher!.Launch(items[start..end], first.Scalars, scale);
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
