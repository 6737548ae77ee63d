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
/// read it (<c>OPTDSL_HOST_RESULTS</c>). Each tensor's scalars go to a device buffer the same way. Buffers are kept
/// between steps; each item's size and device are read once a step (each is a native call).
/// </summary>
internal sealed unsafe class HostCombinedReductions
{
    readonly Dictionary<int, Tensor> _host = new();
    // The host copies' addresses and lengths, read once a phase.
    readonly Dictionary<int, (IntPtr Address, int Length)> _hostViews = new();
    // Per device, each item's host scalars at its first chunk (scalar slots each), on the host and on the device.
    readonly Dictionary<int, (Tensor Host, Tensor Device)> _scalars = new();
    float[] _results = Array.Empty<float>();
    long[] _sizes = Array.Empty<long>();
    int[] _devices = Array.Empty<int>(), _groups = Array.Empty<int>(), _itemCapacity = Array.Empty<int>();
    IntPtr[] _itemPartials = Array.Empty<IntPtr>();

    /// <summary>Reads the step's items' sizes and devices, and forgets the last step's results: reductions not combined yet read 0.</summary>
    public void BeginStep(ReadOnlySpan<UpdateItem> items, int reductions)
    {
        if (_results.Length < items.Length * reductions) _results = new float[Math.Max(items.Length * reductions, 2 * _results.Length)];
        Array.Clear(_results, 0, items.Length * reductions);
        if (_sizes.Length < items.Length)
        {
            _sizes = new long[Math.Max(items.Length, 2 * _sizes.Length)];
            _devices = new int[_sizes.Length];
            _groups = new int[_sizes.Length];
            _itemCapacity = new int[_sizes.Length];
            _itemPartials = new IntPtr[_sizes.Length];
        }
        for (int i = 0; i < items.Length; i++)
        {
            _sizes[i] = items[i].Parameter.NumberOfElements;
            _devices[i] = items[i].Parameter.device_index;
            _groups[i] = items[i].Group;
        }
    }

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
                _scalars[device] = (torch.zeros(length, ScalarType.Float32).DetachFromDisposeScope(),
                    torch.zeros(length, ScalarType.Float32, buffer.device).DetachFromDisposeScope());
            }
        }
        int lastDevice = int.MinValue;
        Span<float> span = default;
        for (int i = 0; i < items.Length; i++)
        {
            // An empty item has no chunk: its place is the next item's.
            if (_sizes[i] == 0) continue;
            if (_devices[i] != lastDevice) span = SpanOf(_scalars[lastDevice = _devices[i]].Host);
            items[i].Scalars.AsSpan(0, Math.Min(slots, items[i].Scalars.Length)).CopyTo(span.Slice(firstChunks[i] * slots));
        }
        foreach (var (device, (host, onDevice)) in _scalars)
            if (partials.ContainsKey(device)) onDevice.copy_(host);
    }

    /// <summary>The device buffer of each item's scalars on <paramref name="device"/> (after <see cref="UploadScalars"/>).</summary>
    public IntPtr ScalarsOn(int device) => TensorAddress.Of(_scalars[device].Device);

    /// <summary>
    /// Combines the reductions of <paramref name="phase"/> over <paramref name="items"/> (item i's partials from chunk
    /// <paramref name="firstChunks"/>[i] of its device's buffer in <paramref name="partials"/>; <see cref="PartialSums"/>), runs
    /// <paramref name="host"/> for each item where the plan says so, and writes the finished values back.
    /// </summary>
    public void Combine(ReductionPlan plan, int phase, ReadOnlySpan<UpdateItem> items, int[] firstChunks,
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
            _hostViews[device] = (TensorAddress.Of(copy), (int)copy.NumberOfElements);
        }
        // Each item's device's host copy and its chunks per reduction, looked up once a phase rather than per chunk.
        for (int i = 0; i < items.Length; i++)
        {
            var (address, length) = _hostViews[_devices[i]];
            (_itemPartials[i], _itemCapacity[i]) = (address, Capacity(length, reductions));
        }
        PartialSums.Finish(plan, phase, new DevicePartials(this, items.Length, firstChunks), _results.AsSpan(0, items.Length * reductions));
        if (plan.HostReadsResults && host is not null)
            for (int i = 0; i < items.Length; i++) host(items[i].Index, new ReadOnlySpan<float>(_results, i * reductions, reductions));
        // The finished values at each tensor's first chunk, after every combination has read the partials.
        for (int i = 0; i < items.Length; i++)
        {
            if (_sizes[i] == 0) continue;
            var partial = HostPartials(_devices[i]);
            for (int j = 0; j < reductions; j++)
                if (plan.Reductions[j].Level == phase) partial[j * Capacity(partial.Length, reductions) + firstChunks[i]] = _results[i * reductions + j];
        }
        foreach (var (device, buffer) in partials) buffer.copy_(_host[device]);
    }

    /// <summary>The step's items' chunk partials in the host copies: item i's chunk c of reduction j at j · capacity + first[i] + c of its device's.</summary>
    readonly struct DevicePartials(HostCombinedReductions owner, int items, int[] firstChunks) : IPartialSums
    {
        public int Tensors => items;
        public long Size(int tensor) => owner._sizes[tensor];
        public int Group(int tensor) => owner._groups[tensor];
        public int Chunks(int tensor) => (int)((owner._sizes[tensor] + MultiTensorLayout.ChunkElements - 1) / MultiTensorLayout.ChunkElements);

        public float Partial(int tensor, int chunk, int reduction) =>
            ((float*)owner._itemPartials[tensor])[reduction * owner._itemCapacity[tensor] + firstChunks[tensor] + chunk];
    }

    Span<float> HostPartials(int device)
    {
        var (address, length) = _hostViews[device];
        return new Span<float>((void*)address, length);
    }

    static int Capacity(int length, int reductions) => length / Math.Max(reductions, 1);

    /// <summary>A host float32 tensor's elements.</summary>
    static Span<float> SpanOf(Tensor host) => new((void*)TensorAddress.Of(host), (int)host.NumberOfElements);
}
