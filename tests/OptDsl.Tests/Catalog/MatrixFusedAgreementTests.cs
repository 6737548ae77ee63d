using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Rules with matrix work run fused on the CPU in phases around the orthogonalisation (the first phase stores its
/// argument, the runtime orthogonalises each matrix, the next phases read the result): against the portable path, on
/// matrices of awkward shapes — a single row or column, vector tails, several chunks, a 3-d tensor.
/// </summary>
public class MatrixFusedAgreementTests
{
    static readonly long[][] Shapes =
    {
        new long[] { 1, 9 }, new long[] { 9, 1 }, new long[] { 3, 7 }, new long[] { 7, 3 }, new long[] { 33, 17 },
        new long[] { 130, 300 }, new long[] { 64, 1000 }, new long[] { 2, 3, 5 },
    };

    [Theory]
    [InlineData("Muon", 2)]
    [InlineData("Muon, no Nesterov, decay", 2)]
    [InlineData("Muon, Polar Express", 2)]
    [InlineData("AdaMuon", 3)]
    [InlineData("AdaMuon, released code", 3)]
    public void The_fused_CPU_path_agrees_with_the_portable_path(string name, int phases)
    {
        Func<Parameter[], DeclaredOptimizer> create = name switch
        {
            "Muon" => ps => new Muon(ps, lr: 0.02),
            "Muon, no Nesterov, decay" => ps => new Muon(ps, lr: 0.02, nesterov: false, weightDecay: 0.1, nsSteps: 3),
            "Muon, Polar Express" => ps => new Muon(ps, lr: 0.02, polarExpress: true),
            "AdaMuon" => ps => new AdaMuon(ps, lr: 1e-2),
            _ => ps => new AdaMuon(ps, lr: 1e-2, signMomentum: false, nesterov: false),
        };
        using var kept = KeptScalars.Rent();
        var fused = Shapes.Select((s, k) => new Parameter(TestData.Normal(s, 60 + (ulong)k).to(ScalarType.Float32))).ToArray();
        var portable = fused.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var a = create(fused);
        using var b = create(portable);
        a.Backend = UpdateBackend.Fused;
        b.Backend = UpdateBackend.Portable;
        for (int step = 1; step <= 6; step++)
        {
            for (int k = 0; k < Shapes.Length; k++)
            {
                var g = TestData.Normal(Shapes[k], 1000 * (ulong)step + (ulong)k).to(ScalarType.Float32);
                fused[k].grad = g;
                portable[k].grad = g.clone();
            }
            a.step();
            b.step();
        }
        Assert.Contains($"{phases} phases", a.FusedStatus);
        // Both round in float32 in another order (lerps, the orthogonalisation's input), a few ulps a step that the
        // iteration carries on: 1e-4 of each tensor's movement bounds them widely. AdaMuon's first step is a sign per
        // element, so an element within an ulp of zero may move the other way: at most 1 in 2,000 may differ more.
        for (int k = 0; k < Shapes.Length; k++)
        {
            var start = TestData.Normal(Shapes[k], 60 + (ulong)k).to(ScalarType.Float32);
            double movement = (portable[k].detach() - start).abs().max().item<float>();
            var difference = (fused[k].detach() - portable[k].detach()).abs();
            long beyond = difference.gt(kept[1e-4 * movement]).sum().item<long>();
            Assert.True(beyond * 2000 <= difference.NumberOfElements,
                $"{name}, {string.Join("x", Shapes[k])}: {beyond} elements differ by more than 1e-4 of the movement (max {difference.max().item<float>():E2} of {movement:E2})");
            if (name.StartsWith("Muon")) Assert.Equal(0, beyond);
        }
    }
}
