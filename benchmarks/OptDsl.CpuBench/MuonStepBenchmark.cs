using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.CpuBench;

/// <summary>
/// One Muon step on the CPU over 48 hidden matrices of GPT-2 small's four shapes scaled down 4x (192x576, 192x192,
/// 192x768, 768x192; 12 of each): one optimizer over all of them against 48 optimizers of one matrix each (the
/// reference implementation's loop). On the CPU the runtime orthogonalises one matrix at a time — a batched chain
/// measured 1.58x slower here — so the two should be equal; on CUDA it batches per shape.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class MuonStepBenchmark
{
    static readonly long[][] Shapes = Enumerable.Range(0, 12)
        .SelectMany(_ => new[] { new long[] { 192, 576 }, new long[] { 192, 192 }, new long[] { 192, 768 }, new long[] { 768, 192 } })
        .ToArray();

    OptDsl.Optimizers.Muon _batched = null!;
    OptDsl.Optimizers.Muon[] _alone = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _batched = new OptDsl.Optimizers.Muon(Parameters(), lr: 0.02);
        _alone = Parameters().Select(p => new OptDsl.Optimizers.Muon(new[] { p }, lr: 0.02)).ToArray();
    }

    static Parameter[] Parameters()
    {
        using var kept = KeptScalars.Rent();
        var ps = Shapes.Select(s => new Parameter(torch.randn(s).mul(kept[0.02]))).ToArray();
        using (torch.no_grad())
            foreach (var p in ps) p.grad = torch.randn_like(p).mul(kept[1e-3]);
        return ps;
    }

    [Benchmark(Baseline = true, Description = "OptDsl Muon, one matrix per optimizer (loop)")]
    public void OneAtATime()
    {
        foreach (var opt in _alone) opt.step();
    }

    [Benchmark(Description = "OptDsl Muon, one optimizer over all")]
    public void Batched() => _batched.step();
}
