using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using OptDsl.Tests.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>Rules with per-tensor reductions, fused on CUDA in phases: determinism across runs and launch batchings.</summary>
public static class PhasesCheck
{
    /// <summary>The phased rules: the catalog's and the test declaration with every reduction (three phases).</summary>
    public static readonly string[] Names = { "Lamb", "Lars", "CautiousAdamW", "CautiousLion", "EveryReduction" };

    public static DeclaredOptimizer Create(string name, IEnumerable<Parameter> ps) =>
        name == "EveryReduction" ? new EveryReduction(ps) : CatalogIndex.Create[name](ps);

    /// <summary>A fixture-shaped case with the optimizer's defaults, for <see cref="ManyTensors.Compare"/>.</summary>
    public static ReferenceFixture.Case Case(string name) =>
        new(name, "defaults", "", new Dictionary<string, double>(), new Dictionary<int, double[][]>());

    /// <summary>
    /// Whether two runs give the same bits, and one optimizer over every tensor the same bits as one optimizer per
    /// tensor (other launches, other chunk positions): 6 steps over 300 tensors, one of 20M elements, so that the step
    /// spans several launches.
    /// </summary>
    public static (bool Repeated, bool Batched, string Status) Deterministic(string name)
    {
        torch.manual_seed(21);
        var sizes = Enumerable.Range(0, 299).Select(i => (long)(1 + 977 * i % 70_001)).Append(20_000_000).ToArray();
        var initial = sizes.Select(n => torch.randn(n, device: CUDA)).ToArray();
        var grads = Enumerable.Range(0, 6).Select(_ => sizes.Select(n => torch.randn(n, device: CUDA)).ToArray()).ToArray();
        string status = "";

        Tensor Run(bool together)
        {
            var ps = initial.Select(t => new Parameter(t.clone())).ToArray();
            var optimizers = together ? new[] { Create(name, ps) } : ps.Select(p => Create(name, new[] { p })).ToArray();
            foreach (var o in optimizers) o.Backend = UpdateBackend.Fused;
            foreach (var step in grads)
            {
                for (int k = 0; k < ps.Length; k++) ps[k].grad = step[k].clone();
                foreach (var o in optimizers) o.step();
            }
            status = optimizers[0].FusedStatus;
            foreach (var o in optimizers) o.Dispose();
            return torch.cat(ps.Select(p => p.detach().flatten()).ToArray()).cpu();
        }

        var first = Run(true);
        var second = Run(true);
        var apart = Run(false);
        static bool Same(Tensor a, Tensor b) =>
            a.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));
        return (Same(first, second), Same(first, apart), status);
    }

    /// <summary>
    /// The rules whose reductions the host combines between phases (scalar state from reductions, some over every
    /// tensor of the step or of a group): the catalog's, and the test declaration with every scope.
    /// </summary>
    public static readonly string[] HostCombined = { "DoG", "Prodigy", "MomentumSam", "SgdSai", "StableSpam", "ScalarFromReductions" };

    public static DeclaredOptimizer CreateHostCombined(string name, IEnumerable<Parameter> ps) =>
        name == "ScalarFromReductions" ? new ScalarFromReductions(ps) : CatalogIndex.Create[name](ps);

    /// <summary>
    /// One of <see cref="HostCombined"/> fused on CUDA against the same run fused on the CPU, 8 steps over 40 tensors,
    /// twice on CUDA: the largest difference relative to max(1, |p|), whether the two CUDA runs gave the same bits, and
    /// CUDA's status.
    /// </summary>
    public static (double Relative, bool Repeated, string Status) AgainstTheCpu(string name)
    {
        torch.manual_seed(31);
        var sizes = Enumerable.Range(0, 39).Select(i => (long)(1 + 1231 * i % 50_001)).Append(300_000).ToArray();
        var initial = sizes.Select(n => torch.randn(n)).ToArray();
        var grads = Enumerable.Range(0, 8).Select(_ => sizes.Select(n => torch.randn(n)).ToArray()).ToArray();
        Tensor Run(Device device, out string status)
        {
            var ps = initial.Select(t => new Parameter(t.to(device))).ToArray();
            using var o = CreateHostCombined(name, ps);
            o.Backend = UpdateBackend.Fused;
            foreach (var step in grads)
            {
                for (int k = 0; k < ps.Length; k++) ps[k].grad = step[k].to(device);
                o.step();
            }
            status = o.FusedStatus;
            return torch.cat(ps.Select(p => p.detach().flatten()).ToArray()).cpu();
        }
        var gpu = Run(CUDA, out var status);
        var again = Run(CUDA, out _);
        var cpu = Run(CPU, out _);
        using var one = 1.0.ToScalar();
        using var zero = 0.0.ToScalar();
        using var infinity = double.PositiveInfinity.ToScalar();
        // NaN on both paths (a deviation of one element) is agreement; NaN on one only is the largest difference.
        var nan = gpu.isnan().logical_or(cpu.isnan());
        var relative = ((gpu - cpu).abs() / cpu.abs().clamp_min(one)).masked_fill(nan, zero)
            .masked_fill(gpu.isnan().logical_xor(cpu.isnan()), infinity).max().item<float>();
        bool repeated = gpu.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits)
            .SequenceEqual(again.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));
        return (relative, repeated, status);
    }
}
