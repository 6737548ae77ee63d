using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// Rules with work per row, fused on CUDA row by row (a warp a row): against the portable path on CUDA, against the
/// fused CPU path, and bit for bit across two runs and across launch batchings.
/// </summary>
public static class RowsCheck
{
    /// <summary>The catalog's rules with work per row only, and the test declaration with every kind of it.</summary>
    public static readonly string[] Names = { "AdamMini", "NorMuon", "Swan", "RowState", "RowStateWithoutMomentum" };

    /// <summary>
    /// Matrix views that exercise the kernel: rows shorter than a warp, a row of one element (vectors), rows with a
    /// partial last warp pass, rows longer than a chunk, several chunks and launches (50257 x 768: 590 chunks of 85
    /// rows), three dimensions. Newton–Schulz takes matrices: NorMuon and SWAN get those of two dimensions or more, the
    /// largest left out (its iterations on the CPU would take minutes).
    /// </summary>
    static readonly long[][] Shapes =
    {
        new long[] { 7 }, new long[] { 3, 5 }, new long[] { 7, 13 }, new long[] { 33, 100 }, new long[] { 2, 70_000 },
        new long[] { 768, 3072 }, new long[] { 50257, 768 }, new long[] { 4, 3, 5 }, new long[] { 1, 768 },
    };

    static long[][] ShapesFor(string name) => name is "NorMuon" or "Swan" ? Shapes.Where(s => s.Length > 1 && s[0] < 50257).ToArray() : Shapes;

    /// <summary>
    /// Fused CUDA against portable CUDA and against the fused CPU path after <paramref name="steps"/> steps, in
    /// <paramref name="dtype"/>: the largest difference relative to max(1, |p|) of each, elements beyond
    /// <paramref name="limit"/> from the portable path (and of how many), whether two CUDA runs and a run with one optimizer per tensor
    /// gave the same bits, and CUDA's status.
    /// </summary>
    public static (double Portable, long Beyond, long Elements, double Cpu, bool Repeated, bool Batched, string Status) Check(string name, ScalarType dtype, int steps, double limit)
    {
        torch.manual_seed(41);
        var shapes = ShapesFor(name);
        var initial = shapes.Select(s => torch.randn(s).to(dtype)).ToArray();
        var grads = Enumerable.Range(0, steps).Select(_ => shapes.Select(s => torch.randn(s).to(dtype)).ToArray()).ToArray();
        string status = "";

        Tensor Run(Device device, UpdateBackend backend, bool together, bool record = false)
        {
            var ps = initial.Select(t => new Parameter(t.to(device))).ToArray();
            var optimizers = together ? new[] { RowDeclarations.Create(name, ps) } : ps.Select(p => RowDeclarations.Create(name, new[] { p })).ToArray();
            foreach (var o in optimizers) o.Backend = backend;
            foreach (var step in grads)
            {
                for (int k = 0; k < ps.Length; k++) ps[k].grad = step[k].to(device);
                foreach (var o in optimizers) o.step();
            }
            if (record) status = optimizers[0].FusedStatus;
            foreach (var o in optimizers) o.Dispose();
            return torch.cat(ps.Select(p => p.detach().flatten().to(ScalarType.Float32)).ToArray()).cpu();
        }

        var fused = Run(CUDA, UpdateBackend.Fused, together: true, record: true);
        var again = Run(CUDA, UpdateBackend.Fused, together: true);
        var apart = Run(CUDA, UpdateBackend.Fused, together: false);
        var portable = Run(CUDA, UpdateBackend.Portable, together: true);
        var cpu = dtype == ScalarType.Float32 ? Run(CPU, UpdateBackend.Fused, together: true) : null;
        using var one = 1.0.ToScalar();
        using var zero = 0.0.ToScalar();
        using var infinity = double.PositiveInfinity.ToScalar();
        using var bound = limit.ToScalar();
        Tensor Relative(Tensor a, Tensor b)
        {
            // NaN on both is agreement; NaN on one only is the largest difference.
            var nan = a.isnan().logical_or(b.isnan());
            return ((a - b).abs() / b.abs().clamp_min(one)).masked_fill(nan, zero).masked_fill(a.isnan().logical_xor(b.isnan()), infinity);
        }
        var toPortable = Relative(fused, portable);
        static bool Same(Tensor a, Tensor b) =>
            a.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));
        return (toPortable.max().item<float>(), toPortable.gt(bound).sum().item<long>(), fused.NumberOfElements, cpu is null ? 0 : Relative(fused, cpu).max().item<float>(),
            Same(fused, again), Same(fused, apart), status);
    }
}
