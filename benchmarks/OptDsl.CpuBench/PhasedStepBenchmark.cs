using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.CpuBench;

/// <summary>
/// One step of a rule with per-tensor reductions on the CPU, over AdamW's 9.85M float32 elements in 50 tensors: the
/// fused phases against the portable path, and a tensor copy moving the bytes the phases must read and write as the
/// floor — LAMB 44 B an element (p, g, m, v read twice; p, m, v written), LARS 28 (p, g; then p, g, buffer read and
/// p, buffer written), Cautious AdamW 36 (g, m; then 28) and Cautious Lion 28 (g, m; then p, g, m read, p, m written).
/// The rules whose scalar state takes values from reductions (the host half again after each phase): DoG 24 (p, g, x0
/// for the norms and the sum of squares; then p, g read and p written), Prodigy 52 (p, g, x0, s for the two global
/// sums; then p, g, m, v, s read and p, m, v, s written), Momentum-SAM 32 (p, g, v for the global norm; then 20),
/// Stable-SPAM 36 (g for the largest magnitude, g for the clipped norm, then p, g, m, v read and p, m, v written) and
/// SGD-SaI 20 (its norms and deviations are taken at the first step only: p, g, buffer read, p, buffer written after).
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class PhasedStepBenchmark : RuleStepBenchmark
{
    [Params("Lamb", "Lars", "CautiousAdamW", "CautiousLion", "DoG", "Prodigy", "MomentumSam", "StableSpam", "SgdSai")]
    public string Rule { get; set; } = "Lamb";

    protected override string RuleName => Rule;

    protected override int BytesPerElement(string rule) => rule switch
    {
        "Lamb" => 44, "CautiousAdamW" => 36, "DoG" => 24, "Prodigy" => 52, "MomentumSam" => 32, "StableSpam" => 36, "SgdSai" => 20, _ => 28,
    };

    protected override DeclaredOptimizer Create(string rule, Parameter[] ps) => rule switch
    {
        "Lamb" => new OptDsl.Optimizers.Lamb(ps, lr: 1e-3),
        "Lars" => new OptDsl.Optimizers.Lars(ps, lr: 1e-2),
        "CautiousAdamW" => new OptDsl.Optimizers.CautiousAdamW(ps, lr: 1e-3),
        "CautiousLion" => new OptDsl.Optimizers.CautiousLion(ps, lr: 1e-4),
        "DoG" => new OptDsl.Optimizers.DoG(ps),
        "Prodigy" => new OptDsl.Optimizers.Prodigy(ps),
        "MomentumSam" => new OptDsl.Optimizers.MomentumSam(ps, lr: 1e-2),
        "StableSpam" => new OptDsl.Optimizers.StableSpam(ps),
        "SgdSai" => new OptDsl.Optimizers.SgdSai(ps),
        _ => throw new ArgumentException(rule),
    };
}
