using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// One contiguous piece of a float32 CPU parameter for the fused CPU update: the parameter's, gradient's and each
/// state's elements over the same index range. State that does not exist (an <c>OnlyIf</c> that is off) is empty.
/// </summary>
public readonly unsafe ref struct CpuChunk
{
    readonly float* _parameter, _gradient;
    readonly IntPtr[] _states;
    readonly IntPtr[]? _matrices;
    readonly int _length;

    readonly TensorRows? _rows;
    readonly int _chunk;

    internal CpuChunk(float* parameter, float* gradient, IntPtr[] states, long offset, int length, IntPtr[]? matrices = null)
    {
        _parameter = parameter + offset;
        _gradient = gradient + offset;
        _states = states;
        _matrices = matrices;
        Offset = offset;
        _length = length;
    }

    /// <summary>Chunk number <paramref name="chunk"/> of a tensor laid out in whole rows (a rule with work per row or column).</summary>
    internal CpuChunk(float* parameter, float* gradient, IntPtr[] states, long offset, int length, IntPtr[]? matrices, TensorRows rows, int chunk)
        : this(parameter, gradient, states, offset, length, matrices)
    {
        _rows = rows;
        _chunk = chunk;
    }

    /// <summary>Where the chunk starts in its tensor.</summary>
    public long Offset { get; }

    /// <summary>The parameter's elements.</summary>
    public Span<float> Parameter => new(_parameter, _length);

    /// <summary>The gradient's elements.</summary>
    public ReadOnlySpan<float> Gradient => new(_gradient, _length);

    /// <summary>State <paramref name="index"/>'s elements, or an empty span where the state does not exist.</summary>
    public Span<float> State(int index) =>
        _states[index] == IntPtr.Zero ? Span<float>.Empty : new Span<float>((float*)_states[index] + Offset, _length);

    /// <summary>
    /// The elements of the runtime's matrix <paramref name="index"/> (a rule's matrix call, laid out as the parameter):
    /// the phase that stores the call's argument writes them, later phases read the result there.
    /// </summary>
    public Span<float> Matrix(int index) => new((float*)_matrices![index] + Offset, _length);

    // A rule with work per row or column: the chunk is whole rows of its tensor's matrix view (shape[0] rows).

    /// <summary>Columns of the matrix view: the length of a row.</summary>
    public int Columns => _rows!.Columns;

    /// <summary>The chunk's first row in its tensor.</summary>
    public int Row => _chunk * _rows!.RowsPerChunk;

    /// <summary>Rows the chunk holds.</summary>
    public int Rows => _length / Math.Max(_rows!.Columns, 1);

    /// <summary>State <paramref name="index"/>, kept per row or column: all of it, whichever rows the chunk holds (empty where it does not exist).</summary>
    public Span<float> WholeState(int index) => _rows!.WholeState(index);

    /// <summary>State <paramref name="index"/>, kept per column, as it was before the step (the chunk of row 0 writes the state itself).</summary>
    public ReadOnlySpan<float> StateBefore(int index) => _rows!.StateBefore(index);

    /// <summary>Reduction <paramref name="index"/>, per row: one value per row of the tensor (the phase accumulating it writes each of the chunk's rows whole).</summary>
    public Span<float> PerRow(int index) => _rows!.PerRow(index);

    /// <summary>Reduction <paramref name="index"/>, per column: its result for each column of the tensor.</summary>
    public ReadOnlySpan<float> PerColumn(int index) => _rows!.PerColumn(index);

    /// <summary>Reduction <paramref name="index"/>, per column: this chunk's partials, one per column.</summary>
    public Span<float> ColumnPartials(int index) => _rows!.ColumnPartials(index, _chunk);
}
