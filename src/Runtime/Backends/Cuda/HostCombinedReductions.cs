using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// For a phased rule whose reductions span several tensors, or whose scalar state takes values from reductions, the
/// step's reductions are combined on the host after each phase before the last: each device's partials are copied to
/// the host (the one wait for the device per phase), every reduction of the phase is combined in chunk order — per
/// tensor, or over the tensors of the step or of a group in the order queued — in double, the host half runs again
/// with the results, and each finished value goes back at its tensor's first chunk, where the later phases' kernels
/// read it (<c>OPTDSL_HOST_RESULTS</c>). Buffers are kept between steps.
/// </summary>
internal sealed unsafe class HostCombinedReductions
{
    readonly Dictionary<int, Tensor> _host = new();
    float[] _results = Array.Empty<float>();

    // Per device, each item's host scalars at its first chunk (scalar slots each), on the host and on the device.
    readonly Dictionary<int, (Tensor Host, Tensor Device)> _scalars = new();

    /// <summary>
    /// Writes every item's host scalars at its first chunk of its device's scalars buffer (<paramref name="slots"/> per
    /// chunk, as many chunks as the device's buffer in <paramref name="partials"/> holds per reduction), for the kernels
    /// that read each tensor's own.
    /// </summary>
    public void UploadScalars(ReadOnlySpan<UpdateItem> items, ReadOnlySpan<int> firstChunks, Dictionary<int, Tensor> partials, int reductions, int slots)
    {
        foreach (var (device, buffer) in partials)
        {
            long length = Math.Max(1, buffer.NumberOfElements / Math.Max(reductions, 1)) * slots;
            if (!_scalars.TryGetValue(device, out var pair) || pair.Host.NumberOfElements != length)
            {
                pair.Host?.Dispose();
                pair.Device?.Dispose();
                _scalars[device] = pair = (torch.zeros(length, ScalarType.Float32).DetachFromDisposeScope(),
                    torch.zeros(length, ScalarType.Float32, buffer.device).DetachFromDisposeScope());
            }
        }
        for (int i = 0; i < items.Length; i++)
        {
            // An empty item has no chunk: its place is the next item's.
            if (items[i].Parameter.NumberOfElements == 0) continue;
            var host = _scalars[items[i].Parameter.device_index].Host;
            var span = new Span<float>((void*)TensorAddress.Of(host), (int)host.NumberOfElements);
            items[i].Scalars.AsSpan(0, Math.Min(slots, items[i].Scalars.Length)).CopyTo(span.Slice(firstChunks[i] * slots));
        }
        foreach (var (device, (host, onDevice)) in _scalars)
            if (partials.ContainsKey(device)) onDevice.copy_(host);
    }

    /// <summary>The device buffer of each item's scalars on <paramref name="device"/> (after <see cref="UploadScalars"/>).</summary>
    public IntPtr ScalarsOn(int device) => TensorAddress.Of(_scalars[device].Device);

    /// <summary>Forgets the results of the last step: reductions not combined yet read 0.</summary>
    public void BeginStep(int items, int reductions)
    {
        if (_results.Length < items * reductions) _results = new float[Math.Max(items * reductions, 2 * _results.Length)];
        Array.Clear(_results, 0, items * reductions);
    }

    /// <summary>
    /// Combines the reductions of <paramref name="phase"/> over <paramref name="items"/> (item i's partials from chunk
    /// <paramref name="firstChunks"/>[i] of its device's buffer in <paramref name="partials"/>), runs
    /// <paramref name="host"/> for each item where the plan says so, and writes the finished values back.
    /// </summary>
    public void Combine(ReductionPlan plan, int phase, ReadOnlySpan<UpdateItem> items, ReadOnlySpan<int> firstChunks,
        Dictionary<int, Tensor> partials, HostStage? host)
    {
        int reductions = plan.Reductions.Length;
        foreach (var (device, buffer) in partials)
        {
            if (!_host.TryGetValue(device, out var copy) || copy.NumberOfElements != buffer.NumberOfElements)
            {
                copy?.Dispose();
                _host[device] = copy = torch.empty(buffer.NumberOfElements, ScalarType.Float32).DetachFromDisposeScope();
            }
            copy.copy_(buffer);
        }
        for (int j = 0; j < reductions; j++)
        {
            var spec = plan.Reductions[j];
            if (spec.Level != phase) continue;
            for (int i = 0; i < items.Length;)
            {
                int end = i + 1;
                if (spec.Scope != ReductionScope.Tensor)
                    while (end < items.Length && (spec.Scope == ReductionScope.Step || items[end].Group == items[i].Group)) end++;
                double total = ReductionPlan.Identity(spec.Op);
                long count = 0;
                for (int k = i; k < end; k++)
                {
                    var (chunks, size) = ChunksOf(items[k]);
                    var partial = HostPartials(items[k].Parameter.device_index);
                    int at = j * Capacity(partial.Length, reductions) + firstChunks[k];
                    for (int c = 0; c < chunks; c++) total = ReductionPlan.Combine(spec.Op, total, partial[at + c]);
                    count += size;
                }
                float result = (float)ReductionPlan.Finish(spec.Op, total, count);
                for (; i < end; i++) _results[i * reductions + j] = result;
            }
        }
        if (plan.HostReadsResults && host is not null)
            for (int i = 0; i < items.Length; i++) host(items[i].Index, new ReadOnlySpan<float>(_results, i * reductions, reductions));
        // The finished values at each tensor's first chunk, after every combination has read the partials.
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].Parameter.NumberOfElements == 0) continue;
            var partial = HostPartials(items[i].Parameter.device_index);
            for (int j = 0; j < reductions; j++)
                if (plan.Reductions[j].Level == phase) partial[j * Capacity(partial.Length, reductions) + firstChunks[i]] = _results[i * reductions + j];
        }
        foreach (var (device, buffer) in partials) buffer.copy_(_host[device]);
    }

    static int Capacity(int length, int reductions) => length / Math.Max(reductions, 1);

    static (int Chunks, long Size) ChunksOf(in UpdateItem item)
    {
        long n = item.Parameter.NumberOfElements;
        return ((int)((n + MultiTensorLayout.ChunkElements - 1) / MultiTensorLayout.ChunkElements), n);
    }

    /// <summary>The host copy of a device's partials buffer.</summary>
    Span<float> HostPartials(int device)
    {
        var copy = _host[device];
        return new Span<float>((void*)TensorAddress.Of(copy), (int)copy.NumberOfElements);
    }
}
