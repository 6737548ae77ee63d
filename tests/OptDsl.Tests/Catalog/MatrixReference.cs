using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Runs a matrix optimizer (NorMuon, AdaMuon, Scion) over a wide, a tall and a 3-d parameter for several steps, in float64 and
/// float32, against its equations written out in float64 as a step on one tensor.
/// </summary>
static class MatrixReference
{
    /// <summary>A wide matrix, a tall one and a 3-d parameter (seen as 4 rows of 15).</summary>
    public static readonly long[][] MatrixShapes = { new long[] { 6, 10 }, new long[] { 12, 5 }, new long[] { 4, 3, 5 } };

    static Parameter[] Parameters(long[][] shapes, ScalarType dtype) =>
        shapes.Select((s, k) => new Parameter(TestData.Normal(s, 5 + (ulong)k).to(dtype))).ToArray();

    static Tensor Gradient(long[][] shapes, int step, int k, ScalarType dtype) => TestData.Normal(shapes[k], 100 * (ulong)step + (ulong)k).to(dtype);

    /// <summary>
    /// <paramref name="step"/> takes (step number from 1, tensor index, parameter, gradient) in float64 and returns the new
    /// parameter, keeping its own state; <paramref name="create"/> makes the optimizer under test.
    /// </summary>
    public static void Check(Func<Parameter[], DeclaredOptimizer> create, Func<int, int, Tensor, Tensor, Tensor> step, int steps = 6, long[][]? shapes = null)
    {
        shapes ??= MatrixShapes;
        var expected = Parameters(shapes, ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < expected.Length; k++) expected[k] = step(t, k, expected[k], Gradient(shapes, t, k, ScalarType.Float64));

        // float64: the same operations in another order, 1e-12 relative. float32: rounding through the Newton–Schulz
        // chain and the norms, measured below 1e-6 of the weights' scale over 6 steps; 1e-5 leaves a 10x margin.
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 1e-5) })
        {
            var parameters = Parameters(shapes, dtype);
            using var optimizer = create(parameters);
            for (int t = 1; t <= steps; t++)
            {
                using (torch.no_grad())
                    for (int k = 0; k < parameters.Length; k++) parameters[k].grad = Gradient(shapes, t, k, dtype);
                optimizer.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                double error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                double scale = expected[k].abs().max().item<double>();
                Assert.True(error <= tolerance * scale, $"{dtype} tensor {k}: off by {error:E2} of {scale:E2}");
            }
        }
    }

    /// <summary>
    /// Muon's momentum as the reference implementations write it: the buffer of tensor <paramref name="k"/> moves
    /// towards <paramref name="g"/> by 1 − momentum; returns what is orthogonalised, the Nesterov look-ahead or the buffer.
    /// </summary>
    public static Tensor Momentum(Dictionary<int, Tensor> buffers, int k, Tensor g, double momentum, bool nesterov, KeptScalars kept)
    {
        var buffer = buffers.TryGetValue(k, out var b) ? b : torch.zeros_like(g);
        buffers[k] = buffer = buffer.Plus((g - buffer).mul(kept[1 - momentum]));
        return nesterov ? g.Plus((buffer - g).mul(kept[momentum])) : buffer;
    }

    /// <summary>The matrix view of a parameter: <c>shape[0]</c> rows.</summary>
    public static (long Rows, long Columns) View(Tensor p) => (p.shape[0], p.NumberOfElements / p.shape[0]);
}
