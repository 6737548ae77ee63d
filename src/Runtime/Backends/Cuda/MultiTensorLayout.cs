using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptDsl.Runtime.Backends.Quantized;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The multi-tensor kernel around a declaration's element body (<c>Kernels/multi_tensor_update.cu</c>, filled in for
/// the layout, the parameter type and the 8-bit states), and the byte layout of its launch metadata:
/// each launch covers up to <see cref="MaxBlocks"/> chunks of <see cref="ChunkElements"/> elements from up to
/// <see cref="MaxTensors"/> tensors, described by a struct passed by value, so a step costs few launches and no
/// host-device copy. Kernel parameters may take 4 KB everywhere (320 chunks a launch, as PyTorch's fused
/// optimizers) and 32 KB on CUDA 12.1+ with compute capability 7.0+ (4096 chunks: 268M elements a launch).
/// </summary>
internal sealed class MultiTensorLayout
{
    public const int Threads = 512;
    public const int ChunkElements = 65536;

    /// <param name="kernel">The declaration's element body.</param>
    /// <param name="largeParameters">Whether launches may take 32 KB of parameters.</param>
    /// <param name="quantizedMask">Bit k set: state k is kept in 8 bits (codes and block scales, see
    /// <see cref="BlockQuantizer"/>), read and written by the kernel directly.</param>
    public MultiTensorLayout(CudaKernel kernel, bool largeParameters = false, int quantizedMask = 0)
    {
        States = kernel.StateCount;
        QuantizedMask = quantizedMask;
        // 8-bit states take a second pointer row each (after all code rows) for their block scales; a phased rule's
        // matrix calls a row each (after the states) for the runtime's bf16 matrices; the last row holds each tensor's
        // rounding word (a stochastic key or a Kahan buffer's address, ParamKind).
        Matrices = kernel.Reductions?.Matrices.Length ?? 0;
        Depth = 2 + States + (quantizedMask != 0 ? States : 0) + Matrices + 1;
        ScalarSlots = Math.Max(1, kernel.ScalarCount);
        int parameterBytes = largeParameters ? 32764 : 4096;
        MaxBlocks = largeParameters ? 4096 : 320;
        Reductions = kernel.Reductions;
        // A phased kernel also takes the partials buffer, its capacity (padded to 8 bytes) and the buffer of each tensor's
        // scalars, and each tensor's first chunk in the partials; a kernel row by row the buffer of values per row and its
        // rows (padded), and each tensor's columns, rows per chunk and first row in that buffer.
        RowWise = Reductions is { RowWise: true };
        int fixedBytes = MaxBlocks * 4 + MaxBlocks + 4 * ScalarSlots + 16 + (Reductions is null ? 0 : 24) + (RowWise ? 16 : 0);
        int perTensor = 8 * (Depth + 1) + (Reductions is null ? 0 : 4) + (RowWise ? 12 : 0);
        MaxTensors = Math.Min(largeParameters ? 255 : 110, (parameterBytes - fixedBytes) / perTensor);
        if (MaxTensors < 1)
            throw new InvalidOperationException($"{kernel.Name}: {States} states and {kernel.ScalarCount} scalars do not fit a CUDA launch's parameters.");
        NumelOffset = 8 * Depth * MaxTensors;
        FirstOffset = NumelOffset + 8 * MaxTensors;
        ColumnsOffset = FirstOffset + (Reductions is null ? 0 : 4 * MaxTensors);
        RowsPerChunkOffset = ColumnsOffset + (RowWise ? 4 * MaxTensors : 0);
        RowBaseOffset = RowsPerChunkOffset + (RowWise ? 4 * MaxTensors : 0);
        ChunkOffset = RowBaseOffset + (RowWise ? 4 * MaxTensors : 0);
        TensorOffset = ChunkOffset + 4 * MaxBlocks;
        MetaBytes = (TensorOffset + MaxBlocks + 7) / 8 * 8;
        int phases = Reductions?.Phases ?? 1;
        _sources = new string[Kinds * phases];
        foreach (var kind in Enum.GetValues<ParamKind>())
            for (int phase = 1; phase <= phases; phase++)
                _sources[Kinds * (phase - 1) + (int)kind] = Reductions is null ? Compose(kernel, kind) : ComposePhase(kernel, kind, phase);
    }

    /// <summary>Whether the kernel runs row by row (<c>Kernels/multi_tensor_rows.cu</c>): a rule with work per row.</summary>
    public bool RowWise { get; }

    /// <summary>Where each tensor's row length, rows per chunk and first row in the step's values per row lie in the metadata of a kernel row by row.</summary>
    public int ColumnsOffset { get; }
    public int RowsPerChunkOffset { get; }
    public int RowBaseOffset { get; }

    /// <summary>
    /// The rows a block takes of a matrix view whose rows hold <paramref name="columns"/> elements, in a kernel row by
    /// row: about <see cref="ChunkElements"/> elements, one row at least.
    /// </summary>
    public static int RowsPerChunk(long columns) => (int)Math.Max(1, ChunkElements / Math.Max(columns, 1));

    /// <summary>The chunks of parameter <paramref name="p"/> (of <paramref name="n"/> elements) in a kernel laid out so: whole rows, or <see cref="ChunkElements"/> each.</summary>
    public static int ChunksOf(TorchSharp.torch.Tensor p, long n, bool rowWise)
    {
        if (!rowWise || n == 0) return (int)((n + ChunkElements - 1) / ChunkElements);
        long rows = p.size(0);
        int perChunk = RowsPerChunk(n / rows);
        return (int)((rows + perChunk - 1) / perChunk);
    }

    static readonly int Kinds = Enum.GetValues<ParamKind>().Length;

    /// <summary>The pointer row of each tensor's rounding word: the last.</summary>
    public int RoundingRow => Depth - 1;

    readonly string[] _sources;

    /// <summary>
    /// The kernel source for parameters (and gradients) of <paramref name="kind"/>, and for a rule with reductions, of
    /// phase <paramref name="phase"/>; state is always float32.
    /// </summary>
    public string SourceFor(ParamKind kind, int phase = 1) => _sources[Kinds * (phase - 1) + (int)kind];

    /// <summary>The rule's reductions, for a phased kernel; null for a one-pass kernel.</summary>
    public ReductionPlan? Reductions { get; }

    /// <summary>Where each tensor's first chunk in the partials buffer lies in a phased kernel's metadata.</summary>
    public int FirstOffset { get; }

    /// <summary>The rule's matrix calls: pointer rows <c>2 + States</c> onwards.</summary>
    public int Matrices { get; }

    /// <summary>Which states the kernel keeps in 8 bits.</summary>
    public int QuantizedMask { get; }

    public int MaxBlocks { get; }
    public int States { get; }
    public int Depth { get; }
    public int ScalarSlots { get; }
    public int MaxTensors { get; }
    public int NumelOffset { get; }
    public int ChunkOffset { get; }
    public int TensorOffset { get; }
    public int MetaBytes { get; }
    /// <summary>The placeholders both templates have: the launch layout, the parameter type and the element code.</summary>
    Dictionary<string, string> Layout(CudaKernel kernel, ParamKind kind) => new()
    {
        ["STATES"] = Text(States),
        ["DEPTH"] = Text(Depth),
        ["SCALARS"] = Text(ScalarSlots),
        ["MAX_TENSORS"] = Text(MaxTensors),
        ["MAX_BLOCKS"] = Text(MaxBlocks),
        ["CHUNK"] = Text(ChunkElements),
        ["THREADS"] = Text(Threads),
        ["BODY"] = kernel.Body,
        ["PARAM_KIND"] = Text((int)kind),
    };

    string Compose(CudaKernel kernel, ParamKind kind)
    {
        var values = Layout(kernel, kind);
        values["Q8_MASK"] = Text(QuantizedMask);
        values["Q8_MAP_BITS"] = Maps();
        values["Q8_CODE_STARTS"] = Starts();
        values["Q8_LOW_EXPONENT"] = Text(CodeTable.LowExponent);
        values["Q8_MANTISSA_BITS"] = Text(CodeTable.MantissaBits);
        values["Q8_EXPONENTS"] = Text(CodeTable.Exponents);
        values["Q8_CODE_STARTS_LENGTH"] = Text(QuantizedMask == 0 ? 1 : 2 * CodeTable.Entries);
        values["Q8_SIGNED_STARTS"] = Text(CodeTable.Entries);
        return KernelSources.Fill("multi_tensor_update.cu", values);
    }

    string ComposePhase(CudaKernel kernel, ParamKind kind, int phase)
    {
        var plan = kernel.Reductions!;
        string Cases(Func<ReductionSpec, int> value) =>
            string.Join(" ", plan.Reductions.Select((r, j) => $"case {Text(j)}: return {Text(value(r))};"));
        var values = Layout(kernel, kind);
        values["PHASE"] = Text(phase);
        values["PHASES"] = Text(plan.Phases);
        values["REDUCTIONS"] = Text(plan.Reductions.Length);
        values["REDUCTION_OPS"] = Cases(r => (int)r.Op);
        values["REDUCTION_LEVELS"] = Cases(r => r.Level);
        values["MATRICES"] = Text(plan.Matrices.Length);
        values["MATRIX_LEVELS"] = string.Join(" ", plan.Matrices.Select((m, j) => $"case {Text(j)}: return {Text(m.Level)};"));
        if (RowWise)
        {
            values["REDUCTION_PER_ROW"] = Cases(r => r.Scope == ReductionScope.Row ? 1 : 0);
            values["ROW_STATES"] = string.Join(" ", plan.StateShapes.Select((shape, k) => $"case {Text(k)}: return {(shape == Core.StateShape.Rows ? 1 : 0)};"));
            return KernelSources.Fill("multi_tensor_rows.cu", values);
        }
        values["HOST_RESULTS"] = CombinesOnHost(plan) ? "1" : "0";
        return KernelSources.Fill("multi_tensor_phases.cu", values);
    }

    /// <summary>
    /// Whether the host combines the plan's reductions between phases (<see cref="HostCombinedReductions"/>): where one
    /// spans several tensors or scalar state takes values from them. Otherwise each later phase's blocks combine their
    /// tensor's partials themselves, with no synchronisation.
    /// </summary>
    public static bool CombinesOnHost(ReductionPlan plan) => plan.HostReadsResults || plan.CrossesTensors;

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The codec's two maps (unsigned, then signed padded to 256) as a CUDA initializer.</summary>
    static string Maps()
    {
        var unsigned = BlockQuantizer.Map(signed: false);
        var signed = BlockQuantizer.Map(signed: true);
        var values = unsigned.Concat(signed).Concat(Enumerable.Repeat(1f, 256 - signed.Count));
        return string.Join(", ", values.Select(v => BitConverter.SingleToInt32Bits(v).ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>The code tables (unsigned, then signed) as a CUDA initializer; empty without 8-bit state.</summary>
    string Starts() => QuantizedMask == 0 ? "0" : string.Join(",",
        CodeTable.Starts(signed: false).Concat(CodeTable.Starts(signed: true)).Select(b => b.ToString(CultureInfo.InvariantCulture)));
}
