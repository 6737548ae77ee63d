using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>The clipping-factor check shared by the unit tests and the GPU check program.</summary>
public static class ClipFolding
{
    /// <summary>Gradients large enough that clipping bites.</summary>
    public static void SetGradients(Parameter[] parameters, int step)
    {
        using var kept = KeptScalars.Rent();
        TestData.SetGradients(parameters, step);
        using var _ = torch.no_grad();
        foreach (var p in parameters)
        {
            using var g = p.grad!;
            g.mul_(kept[5.0]);
        }
    }

    /// <summary>
    /// Fused AdamW behind ClipGradNorm on <paramref name="device"/>, the factor handed to the update and scaled into the
    /// gradients: whether the parameters agree bit for bit after 5 steps, and whether the handed-over run left every
    /// gradient as it was (on CUDA the kernel scales as it reads; elsewhere the gradients are scaled in place).
    /// </summary>
    public static (bool Identical, bool GradientsKept) FoldedAgainstInPlace(Device device)
    {
        var folded = TestData.Parameters(ScalarType.Float32, device);
        var inPlace = TestData.Parameters(ScalarType.Float32, device);
        using var a = new AdamW(folded, lr: 0.01).Compose(new ClipGradNorm(1.0, foldIntoUpdate: true));
        using var b = new AdamW(inPlace, lr: 0.01).Compose(new ClipGradNorm(1.0, foldIntoUpdate: false));
        bool kept = true;
        for (int step = 1; step <= 5; step++)
        {
            SetGradients(folded, step);
            SetGradients(inPlace, step);
            var before = folded.Select(p => p.grad!.clone()).ToArray();
            a.step();
            b.step();
            kept &= folded.Select((p, k) => TestData.Identical(before[k], p.grad!)).All(x => x);
        }
        return (folded.Zip(inPlace).All(x => TestData.Identical(x.First, x.Second)), kept);
    }


    /// <summary>
    /// ClipGradNorm's measured norm (<see cref="ClipGradNorm.LastNorm"/>) of gradients of <paramref name="dtype"/> on
    /// <paramref name="device"/> against the float64 norm on the CPU, relative: <paramref name="count"/> tensors of awkward
    /// sizes (empty, single, not multiples of 4 or of a chunk), one of them larger than <paramref name="large"/> elements.
    /// </summary>
    public static double NormRelativeError(Device device, ScalarType dtype, double p, int count, long large)
    {
        var generator = new torch.Generator(17);
        var sizes = Enumerable.Range(0, count).Select(k => k switch { 0 => 0L, 1 => 1L, 2 => large, _ => 1L + (k * 7919L) % 5000 }).ToArray();
        var parameters = sizes.Select(n => new Parameter(torch.zeros(n, dtype, device))).ToArray();
        var exact = new System.Collections.Generic.List<Tensor>();
        foreach (var (p0, n) in parameters.Zip(sizes))
        {
            var g = torch.randn(n, ScalarType.Float64, generator: generator).to(dtype);
            p0.grad = g.to(device);
            exact.Add(g.to(ScalarType.Float64));
        }
        var all = torch.cat(exact.ToArray());
        double expected = OptDsl.Runtime.Backends.Portable.Norms.Vector(all, p).item<double>();
        using var opt = new OptDsl.Optimizers.SGD(parameters, lr: 0).Compose(new ClipGradNorm(1.0, p));
        opt.step();
        double measured = opt.Stage<ClipGradNorm>().LastNorm!.to(ScalarType.Float64).item<double>();
        return Math.Abs(measured - expected) / expected;
    }
}
