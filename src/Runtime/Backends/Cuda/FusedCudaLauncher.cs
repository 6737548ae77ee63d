using System;
using System.Buffers.Binary;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// Launches a declaration's fused kernel over many tensors of one type that share one set of host scalars: tensors are cut
/// into chunks and packed into as few launches as the kernel's parameter space allows, on the default stream that
/// TorchSharp's work runs on, with no allocation and no host-device synchronisation.
/// </summary>
internal sealed unsafe class FusedCudaLauncher
{
    readonly CudaApi _api;
    readonly CudaKernel _kernel;
    // Layouts by the mask of states kept in 8 bits: 4 KB and 32 KB launch parameters.
    readonly System.Collections.Generic.Dictionary<int, (MultiTensorLayout Small, MultiTensorLayout Large)> _layouts = new();
    MultiTensorLayout _layout;
    int _mask;
    byte[] _meta;
    readonly float[] _scalars;
    IntPtr _function;
    int _device = -1;
    int _blocks, _tensors, _slot = -1;
    IntPtr _gradientScale, _partials, _tensorScalars, _perRow;
    int _capacity, _stepRows;

    FusedCudaLauncher(CudaApi api, CudaKernel kernel)
    {
        _api = api;
        _kernel = kernel;
        _layout = Layouts(0).Small;
        _meta = new byte[_layout.MetaBytes];
        _scalars = new float[_layout.ScalarSlots];
    }

    /// <summary>How the kernel came to be (compiled, loaded from cache), for <c>FusedStatus</c>.</summary>
    public string Report { get; private set; } = "not used yet";

    /// <summary>The launcher, or null with the reason the fused path cannot run here.</summary>
    public static FusedCudaLauncher? TryCreate(CudaKernel kernel, out string? why)
    {
        var api = CudaApi.TryGet(out why);
        return api is null ? null : new FusedCudaLauncher(api, kernel);
    }

    /// <summary>Whether the kernel can take this parameter or gradient: float32, bfloat16 or float16, contiguous, on CUDA.</summary>
    public static bool Accepts(Tensor t) => t.device_type == DeviceType.CUDA && KindOf(t.dtype) is not null && t.is_contiguous();

    /// <summary>Whether the kernel can take this state tensor: float32, contiguous, on CUDA.</summary>
    public static bool AcceptsState(Tensor t) => t.device_type == DeviceType.CUDA && t.dtype == ScalarType.Float32 && t.is_contiguous();

    /// <summary>
    /// Compiles (or loads) the kernel for <paramref name="device"/> and parameters of <paramref name="kind"/>, and
    /// makes the device's context current; throws on failure.
    /// </summary>
    public void Prepare(int device, ParamKind kind, int quantizedMask = 0, int phase = 1)
    {
        // Every launch prepares: once a kernel is made, a lookup here spares hashing its source again.
        if (device == _device && quantizedMask == _mask && kind == _kind && _functions.TryGetValue((device, kind, quantizedMask, phase), out var made))
        {
            CudaModules.MakeCurrent(_api, made.Context);
            _function = made.Function;
            return;
        }
        if (device != _device || quantizedMask != _mask)
        {
            var (small, large) = Layouts(quantizedMask);
            _layout = CudaModules.SupportsLargeParameters(_api, device) ? large : small;
            if (_meta.Length != _layout.MetaBytes) _meta = new byte[_layout.MetaBytes];
        }
        _function = CudaModules.Function(_api, _layout.SourceFor(kind, phase), device, out var report, out var context);
        _functions[(device, kind, quantizedMask, phase)] = (_function, context);
        if (device != _device || kind != _kind || quantizedMask != _mask)
            Report = $"{report}; {_layout.MaxTensors} tensors and {_layout.MaxBlocks} chunks of {MultiTensorLayout.ChunkElements} elements per launch"
                     + (quantizedMask != 0 ? "; 8-bit state read and written in the kernel" : "")
                     + (_layout.Reductions is { } plan ? $"; {plan.Phases} phases (reductions in passes of their own)"
                        + (MultiTensorLayout.CombinesOnHost(plan) ? "; the host combines them after each phase (one wait for the device a phase)" : "") : "");
        (_device, _kind, _mask) = (device, kind, quantizedMask);
    }

    (MultiTensorLayout Small, MultiTensorLayout Large) Layouts(int mask)
    {
        if (!_layouts.TryGetValue(mask, out var layouts))
            _layouts[mask] = layouts = (new MultiTensorLayout(_kernel, largeParameters: false, mask), new MultiTensorLayout(_kernel, largeParameters: true, mask));
        return layouts;
    }

    ParamKind _kind;
    readonly System.Collections.Generic.Dictionary<(int Device, ParamKind Kind, int Mask, int Phase), (IntPtr Function, IntPtr Context)> _functions = new();

    /// <summary>The kernel variant for an item: its parameter's type, and how a half-precision result is stored.</summary>
    public static ParamKind KindOf(in UpdateItem item) => KindOf(item.Parameter.dtype)!.Value switch
    {
        ParamKind.BFloat16 when item.RoundingKey is not null => ParamKind.BFloat16Stochastic,
        ParamKind.BFloat16 when item.Compensation is not null => ParamKind.BFloat16Kahan,
        ParamKind.Float16 when item.Compensation is not null => ParamKind.Float16Kahan,
        var kind => kind,
    };

    /// <summary>The kernel variant for a parameter type, or null when the kernel takes no such parameters.</summary>
    public static ParamKind? KindOf(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => ParamKind.Float32,
        ScalarType.BFloat16 => ParamKind.BFloat16,
        ScalarType.Float16 => ParamKind.Float16,
        _ => null,
    };

    /// <summary>
    /// Updates <paramref name="items"/>, all on one device and of one type, with the same <paramref name="scalars"/>;
    /// every gradient is multiplied by the float32 at <paramref name="gradientScale"/> on that device, if not null.
    /// </summary>
    public void Launch(ReadOnlySpan<UpdateItem> items, ReadOnlySpan<float> scalars, IntPtr gradientScale = default) =>
        Launch(items, scalars, gradientScale, 1, default, IntPtr.Zero, 0, default, IntPtr.Zero, default);

    /// <summary>
    /// Runs phase <paramref name="phase"/> of a rule with reductions over <paramref name="items"/> (as
    /// <see cref="Launch(ReadOnlySpan{UpdateItem}, ReadOnlySpan{float}, IntPtr)"/>): item i's chunks have their partials at
    /// <paramref name="firstChunks"/>[i] onwards in the float32 buffer at <paramref name="partials"/>, which holds
    /// <paramref name="capacity"/> chunks per reduction. Item i's runtime matrices (of a rule with matrix calls) are at
    /// <paramref name="matrices"/>[i * calls + j]. Where the host combines the reductions, each item's scalars are read
    /// from its first chunk's place in the device buffer at <paramref name="tensorScalars"/> instead of <paramref name="scalars"/>.
    /// A kernel row by row takes each item's rows from <paramref name="rows"/>.RowBases[i] on in the buffer of values per
    /// row, which holds <paramref name="rows"/>.StepRows rows per reduction.
    /// </summary>
    public void Launch(ReadOnlySpan<UpdateItem> items, ReadOnlySpan<float> scalars, IntPtr gradientScale, int phase,
        ReadOnlySpan<int> firstChunks, IntPtr partials, int capacity, ReadOnlySpan<IntPtr> matrices, IntPtr tensorScalars,
        (ReadOnlyMemory<int> RowBases, IntPtr PerRow, int StepRows) rows)
    {
        if (items.Length == 0) return;
        _gradientScale = gradientScale;
        (_partials, _capacity, _tensorScalars) = (partials, capacity, tensorScalars);
        (_perRow, _stepRows) = (rows.PerRow, rows.StepRows);
        var rowBases = rows.RowBases.Span;
        Prepare(items[0].Parameter.device_index, KindOf(items[0]), FusedCudaBackend.QuantizedMask(items[0]), phase);
        scalars.CopyTo(_scalars);
        _blocks = _tensors = 0;
        _slot = -1;
        for (int index = 0; index < items.Length; index++)
        {
            ref readonly var item = ref items[index];
            long n = item.Parameter.NumberOfElements;
            if (n == 0) continue;
            long chunks = MultiTensorLayout.ChunksOf(item.Parameter, n, _layout.RowWise);
            for (long c = 0; c < chunks; c++)
            {
                if (_blocks == _layout.MaxBlocks) Flush();
                if (_slot < 0)
                {
                    if (_tensors == _layout.MaxTensors) Flush();
                    _slot = _tensors++;
                    WriteTensor(_slot, item, n);
                    for (int j = 0; j < _layout.Matrices; j++) WritePointer(2 + _layout.States + j, _slot, matrices[index * _layout.Matrices + j]);
                    if (_layout.Reductions is not null)
                        BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_layout.FirstOffset + 4 * _slot), firstChunks[index]);
                    if (_layout.RowWise)
                    {
                        long columns = n / item.Parameter.size(0);
                        BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_layout.ColumnsOffset + 4 * _slot), (int)columns);
                        BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_layout.RowsPerChunkOffset + 4 * _slot), MultiTensorLayout.RowsPerChunk(columns));
                        BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_layout.RowBaseOffset + 4 * _slot), rowBases[index]);
                    }
                }
                BinaryPrimitives.WriteInt32LittleEndian(_meta.AsSpan(_layout.ChunkOffset + 4 * _blocks), (int)c);
                _meta[_layout.TensorOffset + _blocks] = (byte)_slot;
                _blocks++;
            }
            _slot = -1;
        }
        Flush();
    }

    void WriteTensor(int slot, in UpdateItem item, long n)
    {
        WritePointer(0, slot, TensorAddress.Of(item.Parameter));
        WritePointer(1, slot, TensorAddress.Of(item.Gradient));
        var states = item.States;
        for (int k = 0; k < _layout.States; k++)
        {
            if (((_layout.QuantizedMask >> k) & 1) != 0)
            {
                var q = item.Quantized![k];
                WritePointer(2 + k, slot, q is null ? IntPtr.Zero : TensorAddress.Of(q.Codes));
                WritePointer(2 + _layout.States + k, slot, q is null ? IntPtr.Zero : TensorAddress.Of(q.Absmax));
            }
            else WritePointer(2 + k, slot, states[k] is { } s ? TensorAddress.Of(s) : IntPtr.Zero);
        }
        WritePointer(_layout.RoundingRow, slot, item.Compensation is { } c ? TensorAddress.Of(c) : new IntPtr((long)(item.RoundingKey ?? 0)));
        BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(_layout.NumelOffset + 8 * slot), n);
    }

    void WritePointer(int row, int slot, IntPtr pointer) =>
        BinaryPrimitives.WriteInt64LittleEndian(_meta.AsSpan(8 * (row * _layout.MaxTensors + slot)), pointer.ToInt64());

    void Flush()
    {
        if (_blocks > 0)
        {
            fixed (byte* meta = _meta)
            fixed (float* scalars = _scalars)
            {
                IntPtr gradientScale = _gradientScale, partials = _partials, tensorScalars = _tensorScalars, perRow = _perRow;
                int capacity = _capacity, stepRows = _stepRows;
                // The one-pass kernel takes the first five; a phased kernel six; a kernel row by row all eight.
                void** args = stackalloc void*[8];
                args[0] = meta;
                args[1] = scalars;
                args[2] = &gradientScale;
                args[3] = &partials;
                args[4] = &capacity;
                args[5] = &tensorScalars;
                args[6] = &perRow;
                args[7] = &stepRows;
                _api.Check(_api.cuLaunchKernel(_function, (uint)_blocks, 1, 1, MultiTensorLayout.Threads, 1, 1, 0, IntPtr.Zero, args, null),
                    "launching the fused update");
            }
        }
        _blocks = _tensors = 0;
        _slot = -1;
    }
}
