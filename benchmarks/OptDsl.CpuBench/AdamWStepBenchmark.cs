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
/// One AdamW step on the CPU over 9.85M float32 elements in 50 tensors (transformer-like shapes): OptDsl's fused CPU
/// update, its portable path and TorchSharp's built-in AdamW, against a tensor copy moving AdamW's 28 bytes per
/// element (read p, g, m, v; write p, m, v) as the floor. Each benchmark runs in a process of its own.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class AdamWStepBenchmark
{
    static readonly long[][] Shapes =
        Enumerable.Repeat(new long[] { 1024, 768 }, 10)
            .Concat(Enumerable.Repeat(new long[] { 768 }, 20))
            .Concat(Enumerable.Repeat(new long[] { 768, 256 }, 10))
            .Concat(Enumerable.Repeat(new long[] { 1000 }, 10))
            .ToArray();

    Parameter[] _fusedParameters = null!, _portableParameters = null!, _builtinParameters = null!;
    OptDsl.Optimizers.AdamW _fused = null!, _portable = null!;
    torch.optim.Optimizer _builtin = null!;
    Tensor _source = null!, _target = null!;

    public static long Elements => Shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _fusedParameters = Parameters();
        _portableParameters = Parameters();
        _builtinParameters = Parameters();
        _fused = new OptDsl.Optimizers.AdamW(_fusedParameters, lr: 1e-3) { Backend = UpdateBackend.Fused };
        _portable = new OptDsl.Optimizers.AdamW(_portableParameters, lr: 1e-3) { Backend = UpdateBackend.Portable };
#pragma warning disable RS0030 // the peer measured; its step() still passes temporary Scalars
        _builtin = torch.optim.AdamW(_builtinParameters, lr: 1e-3, weight_decay: 1e-2);
#pragma warning restore RS0030
        long floats = Elements * 28 / 8;
        _source = torch.randn(floats);
        _target = torch.empty(floats);
    }

    internal static Parameter[] Parameters()
    {
        using var kept = KeptScalars.Rent();
        var ps = Shapes.Select(s => new Parameter(torch.randn(s).mul(kept[0.02]))).ToArray();
        using (torch.no_grad())
            foreach (var p in ps) p.grad = torch.randn_like(p).mul(kept[1e-3]);
        return ps;
    }

    [Benchmark(Baseline = true, Description = "copy floor (28 B/element)")]
    public void CopyFloor() => _target.copy_(_source);

    [Benchmark(Description = "OptDsl AdamW, fused CPU")]
    public void FusedCpu() => _fused.step();

    [Benchmark(Description = "OptDsl AdamW, portable")]
    public void Portable() => _portable.step();

    [Benchmark(Description = "TorchSharp AdamW (built-in)")]
    public void TorchSharpBuiltin() => _builtin.step();
}
