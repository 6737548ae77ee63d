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
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class PhasedStepBenchmark
{
    [Params("Lamb", "Lars", "CautiousAdamW", "CautiousLion")]
    public string Rule { get; set; } = "Lamb";

    DeclaredOptimizer _fused = null!, _portable = null!;
    Tensor _source = null!, _target = null!;

    static int BytesPerElement(string rule) => rule switch { "Lamb" => 44, "CautiousAdamW" => 36, _ => 28 };

    static DeclaredOptimizer Create(string rule, Parameter[] ps) => rule switch
    {
        "Lamb" => new OptDsl.Optimizers.Lamb(ps, lr: 1e-3),
        "Lars" => new OptDsl.Optimizers.Lars(ps, lr: 1e-2),
        "CautiousAdamW" => new OptDsl.Optimizers.CautiousAdamW(ps, lr: 1e-3),
        "CautiousLion" => new OptDsl.Optimizers.CautiousLion(ps, lr: 1e-4),
        _ => throw new ArgumentException(rule),
    };

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _fused = Create(Rule, AdamWStepBenchmark.Parameters());
        _fused.Backend = UpdateBackend.Fused;
        _portable = Create(Rule, AdamWStepBenchmark.Parameters());
        _portable.Backend = UpdateBackend.Portable;
        long floats = AdamWStepBenchmark.Elements * BytesPerElement(Rule) / 8;
        _source = torch.randn(floats);
        _target = torch.empty(floats);
    }

    [Benchmark(Baseline = true, Description = "copy floor (the phases' bytes)")]
    public void CopyFloor() => _target.copy_(_source);

    [Benchmark(Description = "fused CPU phases")]
    public void FusedCpu() => _fused.step();

    [Benchmark(Description = "portable")]
    public void Portable() => _portable.step();
}
