using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Native;
using OptDsl.Runtime.Training.Distributed;
using OptDsl.Tests.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// On N GPUs, one process each over NCCL: the collectives against their definitions, ZeRO-1 against the unsharded
// optimizer on one GPU, DiLoCo against its one-process simulation; then, on GPT-2 small's parameter list, step time,
// state memory and bytes sent per step for data-parallel AdamW, ZeRO-1 AdamW and DiLoCo.
// Usage on the GPU machine: OPTDSL_LIBTORCH=<torch/lib> OptDsl.MultiGpuCheck [--ranks N] [--no-bench]
using var kept = KeptScalars.Rent();

// On N GPUs, one process each over NCCL: the collectives against their definitions, ZeRO-1 against the unsharded
// optimizer on one GPU, DiLoCo against its one-process simulation; then, on GPT-2 small's parameter list, step time,
// state memory and bytes sent per step for data-parallel AdamW, ZeRO-1 AdamW and DiLoCo.
// Usage on the GPU machine: OPTDSL_LIBTORCH=<torch/lib> OptDsl.MultiGpuCheck [--ranks N] [--no-bench]
int ranks = args.SkipWhile(a => a != "--ranks").Skip(1).Select(int.Parse).DefaultIfEmpty(2).First();
if (Launcher.Placement() is null)
{
    Console.WriteLine($"launching {ranks} ranks");
    int code = Launcher.Run(ranks);
    Console.WriteLine(code == 0 ? "multi-GPU check passed" : $"multi-GPU check failed (exit {code})");
    return code;
}

torch.InitializeDeviceType(DeviceType.CUDA);
using var group = NcclCollectives.FromEnvironment();
var device = group.Device;
int failures = 0;
void Report(string what, bool ok, string detail)
{
    if (!ok) failures++;
    Console.WriteLine($"{what}: {detail} {(ok ? "ok" : "FAIL")}");
}
if (group.Rank == 0) Console.WriteLine($"{group.Describe()}; native loading: {TorchSharpNative.Outcome}");

// 1. Collectives, float32 and float64.
foreach (var type in new[] { ScalarType.Float32, ScalarType.Float64 })
{
    int n = group.WorldSize, r = group.Rank;
    var a = torch.full(1000, kept[r + 1.0], type, device);
    group.AllReduce(a);
    var b = torch.full(7, kept[r + 1.0], type, device);
    group.Reduce(b, root: n - 1, ReduceOp.Average);
    var c = torch.full(5, kept[r + 1.0], type, device);
    group.Broadcast(c, root: 0);
    var d = torch.arange(kept[0L], kept[2 * n], ScalarCalls.One, dtype: type, device: device).add(kept[10 * r], ScalarCalls.One);
    var e = torch.zeros(2, type, device);
    group.ReduceScatter(d, e);
    var f = torch.zeros(n, type, device);
    group.AllGather(torch.full(1, kept[(double)r], type, device), f);
    double sum = n * (n + 1) / 2.0;
    bool ok = a.eq(kept[sum]).all().item<bool>()
        && b.eq(kept[r == n - 1 ? sum / n : r + 1]).all().item<bool>()
        && c.eq(kept[1]).all().item<bool>()
        && e.eq(torch.tensor(new[] { n * 2.0 * r + 10 * sum - 10 * n, n * (2.0 * r + 1) + 10 * sum - 10 * n }, type, device)).all().item<bool>()
        && f.eq(torch.arange(kept[0L], kept[n], ScalarCalls.One, dtype: type, device: device)).all().item<bool>();
    Report($"rank {r} collectives ({type})", ok, "all-reduce, reduce, broadcast, reduce-scatter, all-gather");
}

// 2. ZeRO-1: the same steps as one GPU on the whole batch (float64: the portable path; float32: the fused kernel).
foreach (var (optimizer, type, tolerance) in new[] { ("AdamW", ScalarType.Float64, 1e-12), ("Adafactor", ScalarType.Float64, 1e-12), ("AdamW", ScalarType.Float32, 1e-5) })
{
    const int steps = 6;
    var reference = DistributedScenario.Unsharded(optimizer, steps, device, type);
    var (sharded, bytes) = DistributedScenario.Sharded(optimizer, steps, group, device, type);
    double worst = sharded.Zip(reference).Max(p => (p.First - p.Second).abs().max().to(ScalarType.Float64).item<double>());
    Report($"rank {group.Rank} ZeRO-1 {optimizer} {type}, {steps} steps", worst < tolerance, $"max |2 GPUs - 1 GPU| {worst:E2}, state {bytes} B on this GPU");
}

// 3. DiLoCo, plain and streaming, against the simulation (2 ranks).
if (group.WorldSize == 2)
    foreach (int fragments in new[] { 1, 3 })
    {
        var expected = DistributedScenario.SimulatedDiLoCo(11, 4, fragments, 0.7, 0.9, device);
        var (ps, syncs) = DistributedScenario.DiLoCoRun(11, 4, fragments, 0.7, 0.9, group, device);
        double worst = ps.Select((p, i) => (p - expected[group.Rank * ps.Length + i]).abs().max().item<double>()).Max();
        Report($"rank {group.Rank} DiLoCo, {fragments} fragment(s)", worst < 1e-12, $"max |NCCL - simulation| {worst:E2}, {syncs} synchronisations");
    }

if (!args.Contains("--no-bench")) Bench(group, device);
return failures == 0 ? 0 : 1;

// GPT-2 small's parameter list in float32, AdamW fused: step times and bytes.
static void Bench(NcclCollectives group, Device device)
{
    var shapes = OptDsl.GpuBench.Gpt2Shapes.All();
    Parameter[] Fresh()
    {
        using var kept = KeptScalars.Rent();
        var generator = new torch.Generator(5);
        return shapes.Select(s => new Parameter(torch.randn(s, generator: generator).mul(kept[0.02f]).to(device))).ToArray();
    }
    void Grads(Parameter[] ps)
    {
        using var kept = KeptScalars.Rent();
        foreach (var p in ps) p.grad = torch.full_like(p, kept[1e-3f]).DetachFromDisposeScope();
    }
    // Milliseconds per step over 20 steps run back to back after 5 warm-up steps (one synchronisation at the end).
    double PerStep(Action step)
    {
        for (int i = 0; i < 5; i++) step();
        torch.cuda.synchronize();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) step();
        torch.cuda.synchronize();
        return watch.Elapsed.TotalMilliseconds / 20;
    }
    string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
    long elements = shapes.Sum(s => s.Aggregate(1L, (a, d) => a * d));

    // One GPU alone: the fused AdamW step.
    var alone = Fresh();
    Grads(alone);
    using var single = new OptDsl.Optimizers.AdamW(alone, lr: 1e-4, weightDecay: 0.01);
    double singleMs = PerStep(() => single.step());
    long singleBytes = single.StateBytes;

    // Data parallel: gradients all-reduced (averaged) in one group, then the full fused step on every GPU.
    var dp = Fresh();
    Grads(dp);
    using var dpOptimizer = new OptDsl.Optimizers.AdamW(dp, lr: 1e-4, weightDecay: 0.01);
    long before = group.BytesSent;
    double dpMs = PerStep(() =>
    {
        group.Group(() => { foreach (var p in dp) group.AllReduce(p.grad!, ReduceOp.Average); });
        dpOptimizer.step();
    });
    long dpBytes = (group.BytesSent - before) / 25;

    // ZeRO-1.
    var zero = Fresh();
    Grads(zero);
    using var sharded = new ShardedOptimizer(zero, ps => new OptDsl.Optimizers.AdamW(ps, lr: 1e-4, weightDecay: 0.01), group);
    before = group.BytesSent;
    double zeroMs = PerStep(() => sharded.Step());   // the averaged gradients equal the ones set: no refill needed
    long zeroBytes = (group.BytesSent - before) / 25;
    sharded.NonFiniteGradients = NonFiniteGradients.Throw;
    double zeroCheckedMs = PerStep(() => sharded.Step());

    // Data parallel with compressed averaging.
    (double Ms, long Bytes) Compressed(GradientCompression compression)
    {
        var ps = Fresh();
        Grads(ps);
        using var optimizer = new OptDsl.Optimizers.AdamW(ps, lr: 1e-4, weightDecay: 0.01);
        using var parallel = new DataParallel(ps, optimizer, group, compression);
        long start = group.BytesSent;
        double ms = PerStep(() => parallel.Step());
        return (ms, (group.BytesSent - start) / 25);
    }
    var (powerMs, powerBytes) = Compressed(new PowerSgd(4));
    var (topMs, topBytes) = Compressed(new TopK(0.01));

    // DiLoCo, H = 100: per inner step, the all-reduce of every H-th step amortised; the outer step's time is its own.
    var local = Fresh();
    Grads(local);
    using var inner = new OptDsl.Optimizers.AdamW(local, lr: 1e-4, weightDecay: 0.01);
    using var diloco = new DiLoCo(local, inner, group, syncEvery: 100);
    before = group.BytesSent;
    for (int t = 0; t < 100; t++) diloco.Step();
    torch.cuda.synchronize();
    long dilocoBytes = (group.BytesSent - before) / 100;
    var watch = Stopwatch.StartNew();
    for (int t = 0; t < 100; t++) diloco.Step();
    torch.cuda.synchronize();
    double dilocoMs = watch.Elapsed.TotalMilliseconds / 100;

    // Floors: the collectives alone on one flat buffer of all elements.
    using var flat = torch.zeros(elements + (group.WorldSize - elements % group.WorldSize) % group.WorldSize, device: device);
    using var part = flat.narrow(0, group.Rank * (flat.NumberOfElements / group.WorldSize), flat.NumberOfElements / group.WorldSize);
    double allReduceMs = PerStep(() => group.AllReduce(flat));
    double reduceScatterMs = PerStep(() => group.ReduceScatter(flat, part));
    double allGatherMs = PerStep(() => group.AllGather(part, flat));

    if (group.Rank != 0) return;
    Console.WriteLine();
    Console.WriteLine($"collectives on one flat float32 buffer of all elements: all-reduce {F(allReduceMs)} ms, reduce-scatter {F(reduceScatterMs)} ms, all-gather {F(allGatherMs)} ms");
    Console.WriteLine($"GPT-2 small list: {shapes.Count} tensors, {elements:N0} float32 elements, AdamW (fused), {group.WorldSize} GPUs");
    Console.WriteLine($"| run | ms/step | optimizer state bytes on this GPU | bytes sent per step by this GPU |");
    Console.WriteLine($"| --- | --- | --- | --- |");
    Console.WriteLine($"| one GPU, AdamW step | {F(singleMs)} | {singleBytes:N0} | 0 |");
    Console.WriteLine($"| data parallel: all-reduce + AdamW step | {F(dpMs)} | {dpOptimizer.StateBytes:N0} | {dpBytes:N0} |");
    Console.WriteLine($"| ZeRO-1: reduce-scatter + shard step + all-gather | {F(zeroMs)} | {sharded.StateBytes:N0} | {zeroBytes:N0} |");
    Console.WriteLine($"| ZeRO-1, non-finite gradients checked (one host read) | {F(zeroCheckedMs)} | {sharded.StateBytes:N0} | {zeroBytes + 4:N0} |");
    Console.WriteLine($"| data parallel, PowerSGD rank 4 | {F(powerMs)} | {dpOptimizer.StateBytes:N0} + error and Q | {powerBytes:N0} |");
    Console.WriteLine($"| data parallel, top-k 1 % | {F(topMs)} | {dpOptimizer.StateBytes:N0} + error | {topBytes:N0} |");
    Console.WriteLine($"| DiLoCo H = 100: inner step, outer step amortised | {F(dilocoMs)} | {inner.StateBytes + diloco.StateBytes:N0} | {dilocoBytes:N0} |");
}
