using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// A parameter list that stresses the multi-tensor launcher: empty tensors, sizes around the 4-element vector
/// width and the 65536-element chunk, a tensor over a million elements, more tensors than one launch holds, and
/// views that start at an odd offset (so not 16-byte aligned).
/// </summary>
public static class ManyTensors
{
    static readonly long[] Sizes = BuildSizes();

    public static int Count => Sizes.Length;
    public static long Elements => Sizes.Sum();

    static long[] BuildSizes()
    {
        var sizes = new List<long> { 0, 1, 3, 4, 5, 7, 8, 63, 64, 65, 65535, 65536, 65537, 131071, 131072, 131073, 1_000_003, 0, 2 };
        for (int i = 0; i < 180; i++) sizes.Add(1 + (long)(TestData.GridValue(4242, i) * 1024 + 1024) * 3);
        return sizes.ToArray();
    }

    /// <summary>Parameters as views of one buffer at odd offsets (some 16-byte aligned, most not), over a copy of <paramref name="values"/>.</summary>
    static Parameter[] Views(Tensor values, out Tensor backing)
    {
        backing = values.clone();
        var parameters = new Parameter[Sizes.Length];
        long offset = 1;
        for (int k = 0; k < Sizes.Length; k++)
        {
            parameters[k] = new Parameter(backing.narrow(0, offset, Sizes[k]));
            offset += Sizes[k] + (k % 4 == 0 ? 4 : 3);
        }
        return parameters;
    }

    /// <summary>The same gradients for both parameter lists (tiny at steps 7-9, large at 13, as the fixtures).</summary>
    static void SetGradients(Parameter[] a, Parameter[] b, int step)
    {
        using var kept = KeptScalars.Rent();
        using var _ = torch.no_grad();
        for (int k = 0; k < a.Length; k++)
        {
            var g = torch.randn(Sizes[k], device: torch.CUDA).mul(kept[TestData.GradScale(step)]).to(a[k].dtype);
            a[k].grad = g;
            b[k].grad = g.clone();
        }
    }

    /// <summary>
    /// Runs the case with both paths; returns the largest absolute and relative (to max(1, |p|)) difference, and how
    /// many elements differ by more than 1e-4 relative.
    /// </summary>
    public static (double Absolute, double Relative, long Beyond, string Status) Compare(ReferenceFixture.Case c, int steps,
        ScalarType dtype = ScalarType.Float32, double beyondRelative = 1e-4, Func<Parameter[], DeclaredOptimizer>? create = null)
    {
        using var kept = KeptScalars.Rent();
        // Gaps between the views stay zero in both buffers, so a stray write shows up in the comparison.
        long total = Sizes.Sum() + Sizes.Length * 4 + 1;
        var initial = torch.zeros(total, dtype: dtype, device: torch.CUDA);
        using (torch.no_grad())
        {
            var fill = Views(initial, out var filled);
            foreach (var p in fill) p.copy_(torch.randn(p.shape, device: torch.CUDA).to(dtype));
            initial = filled;
        }
        var fusedParameters = Views(initial, out var fusedBacking);
        var portableParameters = Views(initial, out var portableBacking);
        create ??= ps => CatalogIndex.Create[c.Optimizer](ps);
        using var fused = create(fusedParameters);
        using var portable = create(portableParameters);
        fused.Backend = UpdateBackend.Fused;
        portable.Backend = UpdateBackend.Portable;
        foreach (var (hyper, value) in c.Hypers)
        {
            fused.OptionsOf(0)[hyper] = value;
            portable.OptionsOf(0)[hyper] = value;
        }
        for (int step = 1; step <= steps; step++)
        {
            SetGradients(fusedParameters, portableParameters, step);
            fused.step();
            portable.step();
        }
        var a = fusedBacking.cpu().to(ScalarType.Float64);
        var b = portableBacking.cpu().to(ScalarType.Float64);
        // An element NaN on one path only counts as beyond the limit; one NaN on both is compared no further.
        var nan = a.isnan().logical_or(b.isnan());
        long nanMismatches = a.isnan().logical_xor(b.isnan()).sum().item<long>();
        var difference = (a - b).abs().masked_fill(nan, kept[0.0]);
        double absolute = difference.max().item<double>();
        var relativeDifference = difference / b.abs().masked_fill(nan, kept[1.0]).clamp_min(kept[1.0]);
        double relative = relativeDifference.max().item<double>();
        long beyond = relativeDifference.gt(kept[beyondRelative]).sum().item<long>() + nanMismatches;
        return (absolute, relative, beyond, fused.FusedStatus);
    }
}
