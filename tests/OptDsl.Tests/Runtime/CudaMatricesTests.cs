using System;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// How the fused CUDA path lays out a step's matrices for Newton–Schulz (<see cref="CudaMatrices"/>), checked on CPU
/// tensors, where the same code runs: one bf16 batch per shape and iteration, each item's slot at its place in it, the
/// items pointed at the orthogonalised output afterwards, and a batch no item uses any more given back.
/// </summary>
public class CudaMatricesTests
{
    // Slots 0-4 hold the iteration's steps, coefficients and schedule, as a generated FillScalars writes them.
    static readonly MatrixSpec Spec = new(1, 0, 1, 2, 3, 4);
    static readonly float[] Quintic = { 5, 3.4445f, -4.775f, 2.0315f, 0 };

    static UpdateItem Item(long[] shape, int index, float[]? scalars = null)
    {
        var p = TestData.Normal(shape, 40 + (ulong)index).to(ScalarType.Float32);
        return new UpdateItem(p, p, Array.Empty<Tensor?>(), null, scalars ?? Quintic, index);
    }

    /// <summary>Copies <paramref name="count"/> bf16 values between two addresses.</summary>
    static void Copy(IntPtr from, IntPtr to, long count)
    {
        var bytes = new byte[2 * count];
        System.Runtime.InteropServices.Marshal.Copy(from, bytes, 0, bytes.Length);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, to, bytes.Length);
    }

    [Fact]
    public void Items_of_one_shape_and_iteration_share_a_batch_and_read_its_output()
    {
        var matrices = new CudaMatrices();
        var items = new[] { Item(new long[] { 4, 6 }, 0), Item(new long[] { 6, 4 }, 1), Item(new long[] { 4, 6 }, 2), Item(new long[] { 4, 6 }, 3, new float[] { 3, 3.4445f, -4.775f, 2.0315f, 0 }) };
        matrices.Prepare(items, new[] { Spec });
        var input = matrices.Pointers(0, 4).ToArray();
        // Items 0 and 2 share a batch, 48 bytes (4 x 6 bf16) apart; the tall one and the one of 3 steps have their own.
        Assert.Equal(48, (long)input[2] - (long)input[0]);
        Assert.Equal(4, input.Distinct().Count());
        Assert.NotEqual(48, Math.Abs((long)input[3] - (long)input[0]));

        // Write each item's argument where the kernel would, then orthogonalise: the items now point into the output.
        for (int i = 0; i < items.Length; i++)
        {
            var argument = items[i].Parameter.to(ScalarType.BFloat16).contiguous();
            Copy(TensorAddress.Of(argument), input[i], argument.NumberOfElements);
            GC.KeepAlive(argument);
        }
        matrices.Orthogonalize(0);
        var output = matrices.Pointers(0, 4).ToArray();
        for (int i = 0; i < items.Length; i++)
        {
            var p = items[i].Parameter;
            var expected = MatrixMath.Orthogonalize(p.to(ScalarType.BFloat16), items[i].Scalars[0], 3.4445, -4.775, 2.0315);
            var actual = torch.empty(p.shape, ScalarType.BFloat16);
            Copy(output[i], TensorAddress.Of(actual), p.NumberOfElements);
            GC.KeepAlive(actual);
            // One matrix alone and in a batch: bf16 rounding of the same chain, a few parts in a thousand at most.
            double error = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
            Assert.True(error < 0.02, $"item {i}: off by {error:E2}");
        }
        matrices.EndStep();

        // The next step has only the tall matrix: the other batches are given back, and it keeps its place.
        var tall = new[] { items[1] };
        matrices.Prepare(tall, new[] { Spec });
        Assert.Equal(input[1], matrices.Pointers(0, 1)[0]);
    }

    [Fact]
    public void Batches_of_every_shape_with_one_Gram_size_are_orthogonalised_as_one_chain()
    {
        // GPT-2's four kinds of hidden matrix in miniature: 8 x 24 and 8 x 32 wide, 32 x 8 tall, 8 x 8 square; each
        // shape has its own input batch, and all four share one Gram chain of 8 x 8 matrices.
        var matrices = new CudaMatrices();
        var shapes = new[] { new long[] { 8, 24 }, new long[] { 8, 32 }, new long[] { 32, 8 }, new long[] { 8, 8 }, new long[] { 8, 24 } };
        var items = shapes.Select((shape, i) => Item(shape, 10 + i)).ToArray();
        matrices.Prepare(items, new[] { Spec });
        var input = matrices.Pointers(0, items.Length).ToArray();
        for (int i = 0; i < items.Length; i++)
        {
            var argument = items[i].Parameter.to(ScalarType.BFloat16).contiguous();
            Copy(TensorAddress.Of(argument), input[i], argument.NumberOfElements);
            GC.KeepAlive(argument);
        }
        matrices.Orthogonalize(0);
        var output = matrices.Pointers(0, items.Length).ToArray();
        var arguments = items.Select(item => item.Parameter.to(ScalarType.BFloat16)).ToArray();
        var batches = new[] { torch.stack(new[] { arguments[0], arguments[4] }), arguments[1].unsqueeze(0), arguments[2].unsqueeze(0), arguments[3].unsqueeze(0) };
        var chain = MatrixMath.Orthogonalize(batches, 5, 3.4445, -4.775, 2.0315);
        var expected = new[] { chain[0][0], chain[1][0], chain[2][0], chain[3][0], chain[0][1] };
        for (int i = 0; i < items.Length; i++)
        {
            var actual = torch.empty(items[i].Parameter.shape, ScalarType.BFloat16);
            Copy(output[i], TensorAddress.Of(actual), actual.NumberOfElements);
            GC.KeepAlive(actual);
            // The batches' chain, matrix for matrix: the same products, so the same bf16 values.
            Assert.True(TestData.Identical(actual, expected[i].contiguous()), $"item {i}");
        }
        // The square matrix took the Gram form with the others, not the iteration on X it takes alone.
        Assert.False(TestData.Identical(expected[3], MatrixMath.Orthogonalize(arguments[3], 5, 3.4445, -4.775, 2.0315)));
        matrices.EndStep();
    }
}

