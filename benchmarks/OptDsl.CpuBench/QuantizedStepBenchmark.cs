using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.CpuBench;

/// <summary>
/// One AdamW step with 8-bit moments on the CPU (AdamW's 9.85M elements in 50 tensors): the fused CPU loop, which
/// expands each chunk's codes into float32 and packs them back, against the portable path's dequantize-step-quantize
/// and the fused step with float32 moments; the floor a copy of the 16 bytes an element the 8-bit step must move
/// (p, g read, p written, two codes read and written; the block scales are 1/32 B more).
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class QuantizedStepBenchmark
{
    OptDsl.Optimizers.AdamW _fused8 = null!, _portable8 = null!, _fused32 = null!;
    Tensor _source = null!, _target = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _fused8 = new OptDsl.Optimizers.AdamW(AdamWStepBenchmark.Parameters(), lr: 1e-3) { Backend = UpdateBackend.Fused };
        _portable8 = new OptDsl.Optimizers.AdamW(AdamWStepBenchmark.Parameters(), lr: 1e-3) { Backend = UpdateBackend.Portable };
        _fused32 = new OptDsl.Optimizers.AdamW(AdamWStepBenchmark.Parameters(), lr: 1e-3) { Backend = UpdateBackend.Fused };
        foreach (var o in new[] { _fused8, _portable8 })
        {
            o.QuantizeState("m");
            o.QuantizeState("v");
        }
        long floats = AdamWStepBenchmark.Elements * 16 / 8;
        _source = torch.randn(floats);
        _target = torch.empty(floats);
    }

    [Benchmark(Baseline = true, Description = "copy floor (16 B/element)")]
    public void CopyFloor() => _target.copy_(_source);

    [Benchmark(Description = "OptDsl AdamW, 8-bit state, fused CPU")]
    public void Fused8() => _fused8.step();

    [Benchmark(Description = "OptDsl AdamW, 8-bit state, portable")]
    public void Portable8() => _portable8.step();

    [Benchmark(Description = "OptDsl AdamW, float32 state, fused CPU")]
    public void Fused32() => _fused32.step();
}
