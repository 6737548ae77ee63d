using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The p-norm of many CUDA tensors together in one pass: a multi-tensor kernel (<c>Kernels/multi_tensor_norm.cu</c>) reduces each chunk of 65536 elements
/// to one float32 partial (sum of squares, sum of |x|^p, or max |x|), a TorchSharp reduction combines the partials.
/// A few launches per step instead of one reduction (and its host overhead) per tensor, and no host synchronisation.
/// </summary>
internal sealed unsafe class MultiTensorNorm
{
    const int Threads = 512, ChunkElements = 65536;

    readonly CudaApi _api;
    readonly int _maxTensors, _maxBlocks, _chunkOffset, _tensorOffset;
    readonly byte[] _meta;
    readonly string[] _sources;

    MultiTensorNorm(CudaApi api, bool largeParameters)
    {
        _api = api;
        (_maxTensors, _maxBlocks) = largeParameters ? (255, 4096) : (110, 320);
        _chunkOffset = 16 * _maxTensors;
        _tensorOffset = _chunkOffset + 4 * _maxBlocks;
        _meta = new byte[(_tensorOffset + _maxBlocks + 7) / 8 * 8];
        _sources = new[] { Source(0), Source(1), Source(2) };
    }

    static readonly object Gate = new();
    static readonly Dictionary<int, MultiTensorNorm?> PerDevice = new();
    static bool? _largeParameters;

    /// <summary>For checks: launch with the small (4 KB) or large parameter layout regardless of the device; null to ask it.</summary>
    internal static void UseLayout(bool? largeParameters)
    {
        lock (Gate)
        {
            _largeParameters = largeParameters;
            PerDevice.Clear();
        }
    }

    /// <summary>
    /// The <paramref name="p"/>-norm of all <paramref name="tensors"/> together as a float32 0-d tensor on their device,
    /// or null where the kernel does not apply (not all contiguous float32/bfloat16/float16 on one CUDA device, or no
    /// CUDA driver), for the caller's per-tensor path.
    /// </summary>
    public static Tensor? TryNorm(IReadOnlyList<Tensor> tensors, double p)
    {
        if (tensors.Count == 0 || !(p > 0)) return null;
        var first = tensors[0];
        foreach (var t in tensors)
            if (t.device_type != DeviceType.CUDA || t.device_index != first.device_index || !t.is_contiguous() || FusedCudaLauncher.KindOf(t.dtype) is null)
                return null;
        MultiTensorNorm? norm;
        lock (Gate)
        {
            if (!PerDevice.TryGetValue(first.device_index, out norm))
            {
                var api = CudaApi.TryGet(out _);
                norm = api is null ? null : new MultiTensorNorm(api, _largeParameters ?? CudaModules.SupportsLargeParameters(api, first.device_index));
                PerDevice[first.device_index] = norm;
            }
            return norm?.Compute(tensors, p);
        }
    }

    Tensor Compute(IReadOnlyList<Tensor> tensors, double p)
    {
        int mode = p == 2 ? 0 : double.IsPositiveInfinity(p) ? 1 : 2;
        long chunks = 0;
        foreach (var t in tensors) chunks += (t.NumberOfElements + ChunkElements - 1) / ChunkElements;
        var device = tensors[0].device;
        if (chunks == 0) return zeros(Array.Empty<long>(), ScalarType.Float32, device);
        var partials = empty(chunks, ScalarType.Float32, device);
        long written = 0;
        int blocks = 0, slots = 0;
        ParamKind kind = FusedCudaLauncher.KindOf(tensors[0].dtype)!.Value;
        IntPtr function = IntPtr.Zero;
        var output = TensorAddress.Of(partials);

        void Flush()
        {
            if (blocks > 0)
            {
                fixed (byte* meta = _meta)
                {
                    IntPtr target = output + (nint)(4 * written);
                    float power = (float)p;
                    int how = mode;
                    void** args = stackalloc void*[4];
                    args[0] = meta;
                    args[1] = &target;
                    args[2] = &power;
                    args[3] = &how;
                    _api.Check(_api.cuLaunchKernel(function, (uint)blocks, 1, 1, Threads, 1, 1, 0, IntPtr.Zero, args, null), "launching the gradient norm");
                }
                written += blocks;
            }
            blocks = slots = 0;
        }

        foreach (var t in tensors)
        {
            long n = t.NumberOfElements;
            if (n == 0) continue;
            var tensorKind = FusedCudaLauncher.KindOf(t.dtype)!.Value;
            if (function == IntPtr.Zero || tensorKind != kind)
            {
                Flush();
                kind = tensorKind;
                function = CudaModules.Function(_api, _sources[(int)kind], t.device_index, out _, "optdsl_norm");
            }
            if (slots == _maxTensors) Flush();
            int slot = slots++;
            BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(8 * slot), TensorAddress.Of(t).ToInt64());
            BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(8 * _maxTensors + 8 * slot), n);
            long tensorChunks = (n + ChunkElements - 1) / ChunkElements;
            for (long c = 0; c < tensorChunks; c++)
            {
                if (blocks == _maxBlocks)
                {
                    Flush();
                    slot = slots++;
                    BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(8 * slot), TensorAddress.Of(t).ToInt64());
                    BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(8 * _maxTensors + 8 * slot), n);
                }
                BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_chunkOffset + 4 * blocks), (int)c);
                _meta[_tensorOffset + blocks] = (byte)slot;
                blocks++;
            }
        }
        Flush();
        using var kept = KeptScalars.Rent();
        return mode switch
        {
            0 => partials.sum().sqrt(),
            1 => partials.max(),
            _ => partials.sum().pow(kept[1.0 / p]),
        };
    }

    string Source(int kind) => KernelSources.Fill("multi_tensor_norm.cu", new Dictionary<string, string>
    {
        ["MAX_TENSORS"] = _maxTensors.ToString(CultureInfo.InvariantCulture),
        ["MAX_BLOCKS"] = _maxBlocks.ToString(CultureInfo.InvariantCulture),
        ["CHUNK"] = ChunkElements.ToString(CultureInfo.InvariantCulture),
        ["THREADS"] = Threads.ToString(CultureInfo.InvariantCulture),
        ["KIND"] = kind.ToString(CultureInfo.InvariantCulture),
    });
}
