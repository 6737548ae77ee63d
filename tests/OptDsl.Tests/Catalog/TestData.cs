using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Deterministic parameters and gradients, computed exactly as tests/fixtures/make_fixtures.py computes them: an
/// integer hash onto the grid k/1024, which float32 and float64 hold exactly, so both sides start from the same bits.
/// </summary>
public static partial class TestData
{
    public static readonly long[][] Shapes = { new long[] { 7, 13 }, new long[] { 33 }, new long[] { 1 }, new long[] { 4, 3, 5 } };

    static uint LowBias32(uint x)
    {
        unchecked
        {
            x ^= x >> 16;
            x *= 0x7FEB352D;
            x ^= x >> 15;
            x *= 0x846CA68B;
            x ^= x >> 16;
            return x;
        }
    }

    public static double GridValue(int seed, int i)
    {
        uint h = LowBias32(unchecked((uint)seed * 0x9E3779B9u + (uint)i));
        if (h % 17 == 0) return 0.0;
        return ((int)((h >> 8) % 2049) - 1024) / 1024.0;
    }

    /// <summary>Steps 7-9 bring tiny gradients (next to eps), step 13 large ones.</summary>
    public static double GradScale(int step) => step is >= 7 and <= 9 ? 1.0 / 1024 : step == 13 ? 8.0 : 1.0;

    static Tensor Grid(int seed, long[] shape, double scale, ScalarType dtype)
    {
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, n).Select(i => GridValue(seed, i) * scale).ToArray();
        return torch.tensor(values, dtype: ScalarType.Float64).reshape(shape).to(dtype);
    }

    public static Parameter[] Parameters(ScalarType dtype, Device? device = null) =>
        Shapes.Select((shape, k) => new Parameter(Grid(1000 + k, shape, 1.0, dtype).to(device ?? CPU))).ToArray();

    public static Tensor Gradient(int step, int k, ScalarType dtype, Device? device = null) =>
        Grid(step * 100 + k, Shapes[k], GradScale(step), dtype).to(device ?? CPU);

    /// <summary>Sets every parameter's gradient to the one of <paramref name="step"/>.</summary>
    public static void SetGradients(Parameter[] parameters, int step)
    {
        using var _ = torch.no_grad();
        for (int k = 0; k < parameters.Length; k++)
            parameters[k].grad = Gradient(step, k, parameters[k].dtype, parameters[k].device);
    }

    /// <summary>
    /// Adds the gradients of <paramref name="step"/> to the parameters' (or sets them where there are none), as
    /// backward() does for each micro-batch of an accumulation window.
    /// </summary>
    public static void AddGradients(Parameter[] parameters, int step)
    {
        using var _ = torch.no_grad();
        for (int k = 0; k < parameters.Length; k++)
        {
            var g = Gradient(step, k, parameters[k].dtype, parameters[k].device);
            if (parameters[k].grad is { } grad) grad.Plus_(g);
            else parameters[k].grad = g;
        }
    }

    /// <summary>Seeded float64 normal values from a generator of their own: tests run in parallel and share torch's global one.</summary>
    public static Tensor Normal(long[] shape, ulong seed) => torch.randn(shape, ScalarType.Float64, generator: new torch.Generator(seed));

    /// <summary>Detached copies of the parameters, as new parameters (for a second run from the same start).</summary>
    public static Parameter[] Copies(Parameter[] parameters) => parameters.Select(p => new Parameter(p.detach().clone())).ToArray();

    /// <summary>Whether two tensors have the same shape and bit-identical values.</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}
