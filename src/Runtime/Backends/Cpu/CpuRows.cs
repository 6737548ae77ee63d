using System;
using System.Collections.Generic;
using OptDsl.Runtime.Core;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// One queued tensor's matrix view for a rule with work per row or column (<see cref="ReductionPlan.RowWise"/>): its
/// rows and columns, and the buffers its chunks share — each reduction per row's values (one per row), per column's
/// results and its chunks' partials (one per column), and a copy of its state kept per column as it was before the
/// step. Buffers are kept from step to step (a tensor's sizes do not change between steps).
/// </summary>
internal sealed unsafe class TensorRows
{
    float[] _perRow = Array.Empty<float>(), _perColumn = Array.Empty<float>(), _columnPartials = Array.Empty<float>(), _before = Array.Empty<float>();
    // Per reduction: its place among the reductions per column (-1 for the others); per state, its place among the
    // states kept per column and its address and length where it is kept per row or column.
    int[] _columnOrdinal = Array.Empty<int>(), _beforeOrdinal = Array.Empty<int>(), _stateLengths = Array.Empty<int>();
    IntPtr[] _wholeStates = Array.Empty<IntPtr>();

    public int Rows { get; private set; }

    public int Columns { get; private set; }

    /// <summary>Chunks the tensor is cut into (each whole rows).</summary>
    public int Chunks { get; private set; }

    /// <summary>Rows a chunk holds (the last may hold fewer).</summary>
    public int RowsPerChunk { get; private set; }

    /// <summary>
    /// Lays the tensor out for <paramref name="plan"/>: chunks of about <paramref name="chunkElements"/> elements in
    /// whole rows. Where the rule reduces per column, a chunk holds 16 to 256 rows: its partials (one per column and
    /// chunk, added in float row after row) then stay a sixteenth of the tensor or less, and each sums 256 values at
    /// most before the chunks' are combined in double.
    /// </summary>
    public void Prepare(ReductionPlan plan, int rows, int columns, int chunkElements, IntPtr[] states)
    {
        (Rows, Columns) = (rows, columns);
        int perChunk = Math.Max(1, chunkElements / Math.Max(columns, 1));
        if (Array.Exists(plan.Reductions, r => r.Scope == ReductionScope.Column)) perChunk = Math.Max(Math.Min(perChunk, 256), Math.Min(rows, 16));
        RowsPerChunk = perChunk;
        Chunks = (rows + perChunk - 1) / perChunk;
        var reductions = plan.Reductions;
        Resize(ref _columnOrdinal, reductions.Length);
        int perColumn = 0;
        for (int j = 0; j < reductions.Length; j++) _columnOrdinal[j] = reductions[j].Scope == ReductionScope.Column ? perColumn++ : -1;
        var shapes = plan.StateShapes;
        Resize(ref _beforeOrdinal, states.Length);
        Resize(ref _stateLengths, states.Length);
        Resize(ref _wholeStates, states.Length);
        int columnStates = 0;
        for (int i = 0; i < states.Length; i++)
        {
            var shape = i < shapes.Length ? shapes[i] : StateShape.Elements;
            _beforeOrdinal[i] = shape == StateShape.Columns ? columnStates++ : -1;
            _wholeStates[i] = shape == StateShape.Elements ? IntPtr.Zero : states[i];
            _stateLengths[i] = states[i] == IntPtr.Zero ? 0 : shape switch { StateShape.Rows => rows, StateShape.Columns => columns, _ => 0 };
        }
        Ensure(ref _perRow, (long)reductions.Length * rows);
        Ensure(ref _perColumn, (long)reductions.Length * columns);
        Ensure(ref _columnPartials, (long)perColumn * Chunks * columns);
        Ensure(ref _before, (long)columnStates * columns);
    }

    /// <summary>Copies each state kept per column as it is now: every chunk reads that copy while the chunk of row 0 writes the state.</summary>
    public void TakeColumnStates()
    {
        for (int i = 0; i < _beforeOrdinal.Length; i++)
            if (_beforeOrdinal[i] >= 0 && _stateLengths[i] > 0)
                new ReadOnlySpan<float>((void*)_wholeStates[i], Columns).CopyTo(_before.AsSpan(_beforeOrdinal[i] * Columns, Columns));
    }

    /// <summary>Sets the partials of the reductions per column that <paramref name="phase"/> accumulates to their identity.</summary>
    public void ResetColumnPartials(ReductionPlan plan, int phase)
    {
        for (int j = 0; j < plan.Reductions.Length; j++)
            if (plan.Reductions[j].Level == phase && _columnOrdinal[j] >= 0)
                _columnPartials.AsSpan(_columnOrdinal[j] * Chunks * Columns, Chunks * Columns).Fill(ReductionPlan.Identity(plan.Reductions[j].Op));
    }

    /// <summary>
    /// Finishes the reductions per row and column that <paramref name="phase"/> accumulated: a row's sum was whole in
    /// its chunk; a column's chunk partials are combined in chunk order, in double — the same bits on every run.
    /// </summary>
    public void Finish(ReductionPlan plan, int phase)
    {
        for (int j = 0; j < plan.Reductions.Length; j++)
        {
            var spec = plan.Reductions[j];
            if (spec.Level != phase) continue;
            if (spec.Scope == ReductionScope.Row)
            {
                var values = _perRow.AsSpan(j * Rows, Rows);
                for (int r = 0; r < values.Length; r++) values[r] = (float)ReductionPlan.Finish(spec.Op, values[r], Columns);
            }
            else if (spec.Scope == ReductionScope.Column)
            {
                var partials = _columnPartials.AsSpan(_columnOrdinal[j] * Chunks * Columns, Chunks * Columns);
                var results = _perColumn.AsSpan(j * Columns, Columns);
                for (int c = 0; c < Columns; c++)
                {
                    double total = ReductionPlan.Identity(spec.Op);
                    for (int k = 0; k < Chunks; k++) total = ReductionPlan.Combine(spec.Op, total, partials[k * Columns + c]);
                    results[c] = (float)ReductionPlan.Finish(spec.Op, total, Rows);
                }
            }
        }
    }

    /// <summary>Reduction <paramref name="j"/>'s values per row (sums while its phase runs, results after).</summary>
    public Span<float> PerRow(int j) => _perRow.AsSpan(j * Rows, Rows);

    /// <summary>Reduction <paramref name="j"/>'s results per column.</summary>
    public ReadOnlySpan<float> PerColumn(int j) => _perColumn.AsSpan(j * Columns, Columns);

    /// <summary>Chunk <paramref name="chunk"/>'s partials of reduction <paramref name="j"/> per column.</summary>
    public Span<float> ColumnPartials(int j, int chunk) => _columnPartials.AsSpan((_columnOrdinal[j] * Chunks + chunk) * Columns, Columns);

    /// <summary>State <paramref name="i"/>, kept per row or column, whole (empty where it does not exist).</summary>
    public Span<float> WholeState(int i) => _stateLengths[i] == 0 ? Span<float>.Empty : new Span<float>((void*)_wholeStates[i], _stateLengths[i]);

    /// <summary>State <paramref name="i"/>, kept per column, as it was before the step.</summary>
    public ReadOnlySpan<float> StateBefore(int i) => _stateLengths[i] == 0 ? ReadOnlySpan<float>.Empty : _before.AsSpan(_beforeOrdinal[i] * Columns, Columns);

    static void Resize(ref int[] array, int length)
    {
        if (array.Length != length) array = new int[length];
    }

    static void Resize(ref IntPtr[] array, int length)
    {
        if (array.Length != length) array = new IntPtr[length];
    }

    static void Ensure(ref float[] buffer, long length)
    {
        if (length > Array.MaxLength) throw new InvalidOperationException("A tensor's buffers per row or column are too large for the fused CPU path.");
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>((int)length);
    }
}

/// <summary>The <see cref="TensorRows"/> of each queued tensor, kept from step to step.</summary>
internal sealed class CpuRows
{
    readonly List<TensorRows> _tensors = new();

    /// <summary>Tensor <paramref name="index"/>'s layout (made the first time the queue is that long).</summary>
    public TensorRows this[int index]
    {
        get
        {
            while (_tensors.Count <= index) _tensors.Add(new TensorRows());
            return _tensors[index];
        }
    }
}
