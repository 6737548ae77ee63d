using BenchmarkDotNet.Attributes;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.CpuBench;

/// <summary>
/// One step of a rule on the CPU over AdamW's 9.85M float32 elements in 50 tensors: the fused path against the portable
/// one, and a tensor copy moving the bytes the rule must read and write as the floor (<see cref="BytesPerElement"/>).
/// </summary>
public abstract class RuleStepBenchmark
{
    DeclaredOptimizer _fused = null!, _portable = null!;
    Tensor _source = null!, _target = null!;

    /// <summary>The rule being measured (the derived benchmark's parameter).</summary>
    protected abstract string RuleName { get; }

    /// <summary>The bytes per element the rule's passes must read and write.</summary>
    protected abstract int BytesPerElement(string rule);

    protected abstract DeclaredOptimizer Create(string rule, Parameter[] ps);

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _fused = Create(RuleName, AdamWStepBenchmark.Parameters());
        _fused.Backend = UpdateBackend.Fused;
        _portable = Create(RuleName, AdamWStepBenchmark.Parameters());
        _portable.Backend = UpdateBackend.Portable;
        long floats = AdamWStepBenchmark.Elements * BytesPerElement(RuleName) / 8;
        _source = torch.randn(floats);
        _target = torch.empty(floats);
    }

    [Benchmark(Baseline = true, Description = "copy floor (the rule's bytes)")]
    public void CopyFloor() => _target.copy_(_source);

    [Benchmark(Description = "fused CPU")]
    public void FusedCpu() => _fused.step();

    [Benchmark(Description = "portable")]
    public void Portable() => _portable.step();
}
