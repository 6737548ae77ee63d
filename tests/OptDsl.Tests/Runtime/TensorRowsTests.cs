using System;
using System.Linq;
using System.Runtime.InteropServices;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Core;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The CPU row loop's buffers for one tensor (<see cref="TensorRows"/>): how it cuts rows into chunks, how it finishes
/// reductions per row and per column, and the copy of state per column every chunk reads.
/// </summary>
public class TensorRowsTests
{
    static readonly ReductionPlan RowsOnly = new(2, new ReductionSpec(1, ReductionOp.Mean, ReductionScope.Row));

    static readonly ReductionPlan WithColumns = new(2,
        new ReductionSpec(1, ReductionOp.Norm, ReductionScope.Row), new ReductionSpec(1, ReductionOp.Mean, ReductionScope.Column),
        new ReductionSpec(1, ReductionOp.Max, ReductionScope.Column)) { StateShapes = new[] { OptDsl.Runtime.Core.StateShape.Elements, OptDsl.Runtime.Core.StateShape.Columns } };

    [Theory]
    [InlineData(1000, 768, 42, 24)]      // 32768 / 768 rows a chunk
    [InlineData(7, 1, 32768, 1)]         // a vector: rows of one element, all in one chunk
    [InlineData(3, 50_000, 1, 3)]        // a row longer than a chunk: one row each
    public void Chunks_are_whole_rows_of_about_32768_elements(int rows, int columns, int perChunk, int chunks)
    {
        var layout = new TensorRows();
        layout.Prepare(RowsOnly, rows, columns, FusedCpuRunner.ChunkElements, new IntPtr[1]);
        Assert.Equal((perChunk, chunks), (layout.RowsPerChunk, layout.Chunks));
    }

    [Theory]
    [InlineData(1000, 768, 42)]     // within 16 to 256 rows already
    [InlineData(20_000, 1, 256)]    // no more than 256 rows: each column partial sums 256 values at most in float
    [InlineData(300, 50_257, 16)]   // no fewer than 16: the partials stay a sixteenth of the tensor
    [InlineData(5, 50_257, 5)]      // unless the tensor has fewer rows
    public void With_reductions_per_column_a_chunk_holds_16_to_256_rows(int rows, int columns, int perChunk)
    {
        var layout = new TensorRows();
        layout.Prepare(WithColumns, rows, columns, FusedCpuRunner.ChunkElements, new IntPtr[2]);
        Assert.Equal(perChunk, layout.RowsPerChunk);
    }

    [Fact]
    public void Rows_finish_in_place_and_columns_combine_their_chunks_in_order()
    {
        const int rows = 600, columns = 3;
        var state = GC.AllocateArray<float>(columns, pinned: true);
        {
            var layout = new TensorRows();
            layout.Prepare(WithColumns, rows, columns, FusedCpuRunner.ChunkElements, new[] { IntPtr.Zero, Address(state) });
            Assert.Equal((256, 3), (layout.RowsPerChunk, layout.Chunks));
            layout.ResetColumnPartials(WithColumns, 1);
            Assert.All(Enumerable.Range(0, layout.Chunks), k => Assert.All(layout.ColumnPartials(2, k).ToArray(), v => Assert.Equal(float.NegativeInfinity, v)));
            // What the chunks would accumulate: row r's sum of squares 9 (a norm of 3), column c's partial per chunk.
            for (int r = 0; r < rows; r++) layout.PerRow(0)[r] = 9f;
            for (int k = 0; k < layout.Chunks; k++)
                for (int c = 0; c < columns; c++)
                {
                    layout.ColumnPartials(1, k)[c] = 10f * (k + 1) + c;   // sums 60 + 3c over the three chunks
                    layout.ColumnPartials(2, k)[c] = k == 1 ? 5f + c : c;
                }
            layout.Finish(WithColumns, 1);
            Assert.All(layout.PerRow(0).ToArray(), v => Assert.Equal(3f, v));
            Assert.Equal(new[] { 60f / rows, 63f / rows, 66f / rows }, layout.PerColumn(1).ToArray());
            Assert.Equal(new[] { 5f, 6f, 7f }, layout.PerColumn(2).ToArray());
        }
    }

    [Fact]
    public void State_per_column_is_copied_before_the_step_and_read_from_the_copy()
    {
        var state = GC.AllocateArray<float>(3, pinned: true);
        new[] { 1f, 2f, 3f }.CopyTo(state, 0);
        {
            var layout = new TensorRows();
            layout.Prepare(WithColumns, 4, 3, FusedCpuRunner.ChunkElements, new[] { IntPtr.Zero, Address(state) });
            layout.TakeColumnStates();
            layout.WholeState(1)[0] = 10f;   // the chunk of row 0 writes the state
            Assert.Equal(new[] { 1f, 2f, 3f }, layout.StateBefore(1).ToArray());
            Assert.Equal(10f, state[0]);
            Assert.True(layout.WholeState(0).IsEmpty);   // per element: the chunk's own span, not a whole one
        }
    }

    /// <summary>Where a pinned array's elements lie (the runtime reads state through the tensor's address).</summary>
    static IntPtr Address(float[] pinned) => Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
}
