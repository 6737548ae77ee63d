using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

public class FusedPhaseTests
{
    static readonly long[] Sizes = { 0, 1, 3, 7, 8, 9, 17, 33, 1000, 32767, 32768, 32769, 100_003, 5 };

    public static TheoryData<string> Phased() => new()
    {
        "Lamb", "Lars", "CautiousAdamW", "CautiousLion", "EveryReduction",
        // Scalar state from reductions (the host half after each phase), some over every tensor of the step.
        "SgdSai", "StableSpam", "DoG", "Prodigy", "MomentumSam",
    };

    /// <summary>The rules that reduce over every tensor of the step: stepping a tensor alone is another rule for them.</summary>
    static readonly string[] AcrossTensors = { "DoG", "Prodigy", "MomentumSam" };

    static DeclaredOptimizer Create(string name, IEnumerable<Parameter> ps) =>
        name == "EveryReduction" ? new EveryReduction(ps) : CatalogIndex.Create[name](ps);

    [Theory]
    [MemberData(nameof(Phased))]
    public void Rules_with_per_tensor_reductions_run_fused_in_phases(string name)
    {
        var parameters = Sizes.Select(n => new Parameter(torch.randn(n))).ToArray();
        using var optimizer = Create(name, parameters);
        optimizer.Backend = UpdateBackend.Fused;
        foreach (var p in parameters) p.grad = torch.randn(p.shape);
        optimizer.step();
        Assert.Contains("phases (reductions in passes of their own)", optimizer.FusedStatus);
    }

    [Fact]
    public void Rules_with_other_whole_tensor_work_say_why_they_are_not_fused()
    {
        using var scion = new Scion(new[] { new Parameter(torch.randn(4, 6)) });
        Assert.StartsWith("no fused code: the rule works on whole tensors (", scion.FusedStatus);
        Assert.EndsWith(") and Matrix.NewtonSchulz is called under a condition; the portable path runs it", scion.FusedStatus);
    }

    /// <summary>
    /// The phases against the portable path over 15 steps on tensors that exercise the loop (empty, shorter than a
    /// vector, tails, chunk edges, several chunks). Both round in float32 in another order — and the fused reductions
    /// sum per chunk then in double, torch pairwise — so they agree to a few ulps a step; 1e-4 relative bounds that
    /// widely. Sign tests (Cautious masks, Lion) flip where a value is within rounding of zero: such elements must
    /// stay rarer than 1 in 20,000.
    /// </summary>
    [Theory]
    [MemberData(nameof(Phased))]
    public void Phases_agree_with_the_portable_path(string name)
    {
        using var kept = KeptScalars.Rent();
        torch.manual_seed(5);
        var initial = Sizes.Select(n => torch.randn(n)).ToArray();
        var fused = initial.Select(t => new Parameter(t.clone())).ToArray();
        var portable = initial.Select(t => new Parameter(t.clone())).ToArray();
        using var a = Create(name, fused);
        using var b = Create(name, portable);
        a.Backend = UpdateBackend.Fused;
        b.Backend = UpdateBackend.Portable;
        for (int step = 1; step <= 15; step++)
        {
            for (int k = 0; k < Sizes.Length; k++)
            {
                var g = torch.randn(Sizes[k]).mul(kept[TestData.GradScale(step)]);
                fused[k].grad = g;
                portable[k].grad = g.clone();
            }
            a.step();
            b.step();
        }
        long total = Sizes.Sum(), beyond = 0;
        double worst = 0;
        for (int k = 0; k < Sizes.Length; k++)
        {
            if (Sizes[k] == 0) continue;
            // A standard deviation of one element is NaN on both paths (as torch.std's): the same elements must be.
            Assert.True(fused[k].isnan().eq(portable[k].isnan()).all().item<bool>(), $"{name}: tensor {k} is NaN at other elements than the portable path's");
            var relative = (fused[k] - portable[k]).abs() / portable[k].abs().clamp_min(kept[1.0]);
            beyond += relative.gt(kept[1e-4]).sum().item<long>();
            worst = Math.Max(worst, relative.max().item<float>());
        }
        long allowed = name is "CautiousAdamW" or "CautiousLion" ? total / 20_000 : 0;
        Assert.True(beyond <= allowed, $"{name}: {beyond} of {total} elements differ by more than 1e-4 relative (max {worst:E2}); {a.FusedStatus}");
    }

    /// <summary>
    /// Reductions in a fixed order: two runs give the same bits, and so do the same tensors stepped by one optimizer and
    /// by one optimizer each (other batches, other chunk positions in the step).
    /// </summary>
    [Theory]
    [MemberData(nameof(Phased))]
    public void Phases_give_the_same_bits_on_every_run_and_batching(string name)
    {
        torch.manual_seed(9);
        var initial = new[] { torch.randn(100_003), torch.randn(4099), torch.randn(70_000) };
        var grads = Enumerable.Range(0, 4).Select(_ => initial.Select(t => torch.randn(t.shape)).ToArray()).ToArray();

        var first = Determinism.Run(ps => Create(name, ps), initial, grads, together: true);
        var second = Determinism.Run(ps => Create(name, ps), initial, grads, together: true);
        var apart = AcrossTensors.Contains(name) ? null : Determinism.Run(ps => Create(name, ps), initial, grads, together: false);
        for (int k = 0; k < first.Length; k++)
        {
            Assert.True(Determinism.Bits(first[k]).SequenceEqual(Determinism.Bits(second[k])), $"{name}: tensor {k} differs between two runs");
            if (apart is not null) Assert.True(Determinism.Bits(first[k]).SequenceEqual(Determinism.Bits(apart[k])), $"{name}: tensor {k} differs when stepped alone");
        }
    }
}
