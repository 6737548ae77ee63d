using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using OptDsl.GpuBench;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// Median ms per optimizer step on GPT-2 small's parameter list (148 tensors, 124.4M fp32 elements), with the
// device-to-device copy that moves the same bytes as the floor, all in one process. Writes JSON for report.py.
// Usage: OPTDSL_LIBTORCH=<torch/lib> OptDsl.GpuBench results.json [--muon | --clip | --q8 | --phases]   (only those rows)
//        OptDsl.GpuBench x --trace-muon N   (N untimed fused Muon steps, for a profiler)
using var kept = KeptScalars.Rent();

Console.WriteLine("native loading: " + TorchSharpNative.Outcome);
torch.InitializeDeviceType(DeviceType.CUDA);
if (!torch.cuda.is_available()) { Console.WriteLine("no CUDA device"); return 2; }

var shapes = Gpt2Shapes.All();
long elements = shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
Console.WriteLine($"{shapes.Count} tensors, {elements:N0} fp32 elements");
torch.manual_seed(0);

Parameter[] Parameters()
{
    using var kept = KeptScalars.Rent();
    var ps = shapes.Select(s => new Parameter(torch.randn(s, device: torch.CUDA).mul(kept[0.02]))).ToArray();
    using (torch.no_grad())
        foreach (var p in ps) p.grad = torch.randn_like(p).mul(kept[1e-3]);
    return ps;
}

// --trace-muon N: only N fused Muon steps on the 48 hidden matrices, untimed, for a profiler (dotnet-trace) to sample.
if (Array.IndexOf(args, "--trace-muon") is int at and >= 0)
{
    var matrices = Gpt2Shapes.HiddenMatrices().Select(s => new Parameter(torch.randn(s, device: torch.CUDA).mul(kept[0.02]))).ToArray();
    using (torch.no_grad())
        foreach (var p in matrices) p.grad = torch.randn_like(p).mul(kept[1e-3]);
    using var traced = new OptDsl.Optimizers.Muon(matrices, lr: 0.02);
    for (int i = int.Parse(args[at + 1]); i > 0; i--) traced.step();
    torch.cuda.synchronize();
    return 0;
}

var results = new Dictionary<string, double>();
bool onlyMuon = args.Contains("--muon"), onlyClip = args.Contains("--clip"), onlyQ8 = args.Contains("--q8"), onlyPhases = args.Contains("--phases"),
    onlyRounding = args.Contains("--rounding");

double Median(Action step, int windows = 15, int perWindow = 10)
{
    for (int i = 0; i < 5; i++) step();
    torch.cuda.synchronize();
    var times = new List<double>();
    for (int w = 0; w < windows; w++)
    {
        torch.cuda.synchronize();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < perWindow; i++) step();
        torch.cuda.synchronize();
        times.Add(watch.Elapsed.TotalMilliseconds / perWindow);
    }
    times.Sort();
    return times[times.Count / 2];
}

// The host's time to issue one step without waiting for the device: where it nears Median's, the step is host-bound.
double HostMs(Action step, int steps = 10)
{
    for (int i = 0; i < 3; i++) step();
    torch.cuda.synchronize();
    var watch = Stopwatch.StartNew();
    for (int i = 0; i < steps; i++) step();
    double ms = watch.Elapsed.TotalMilliseconds / steps;
    torch.cuda.synchronize();
    return ms;
}

void Record(string name, double ms)
{
    results[name] = ms;
    Console.WriteLine($"{name,-44} {ms,8:F3} ms");
}

void CopyFloor(int bytesPerElement)
{
    // Read and write bytesPerElement/2 bytes per parameter element each: the traffic of the optimizer step.
    long floats = elements * bytesPerElement / 8;
    using var source = torch.randn(floats, device: torch.CUDA);
    using var target = torch.empty(floats, device: torch.CUDA);
    Record($"copy floor ({bytesPerElement} B/element)", Median(() => target.copy_(source)));
}

if (onlyRounding)
{
    // bfloat16 parameters and gradients, float32 moments, stored three ways: to nearest and stochastically move 22 bytes
    // an element (read 2 + 2 + 4 + 4, write 2 + 4 + 4); Kahan reads and writes its bfloat16 buffer too, 26.
    CopyFloor(22);
    CopyFloor(26);
    foreach (var (name, rounding) in new[] { ("to nearest", HalfPrecisionRounding.Nearest), ("stochastic rounding", HalfPrecisionRounding.Stochastic), ("Kahan", HalfPrecisionRounding.Kahan) })
    {
        var ps = shapes.Select(s => new Parameter(torch.randn(s, device: torch.CUDA).mul(kept[0.02]).to(ScalarType.BFloat16))).ToArray();
        using (torch.no_grad())
            foreach (var p in ps) p.grad = torch.randn_like(p, dtype: ScalarType.Float32).mul(kept[1e-3]).to(ScalarType.BFloat16);
        using var adamw = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused, Rounding = rounding, RoundingSeed = 1 };
        adamw.step();
        Console.WriteLine($"  {name}: {adamw.FusedStatus}");
        Record($"OptDsl AdamW bf16 params, {name}, fused CUDA", Median(() => adamw.step()));
    }
    File.WriteAllText(args.FirstOrDefault(a => !a.StartsWith("--")) ?? "csharp.json", JsonSerializer.Serialize(results));
    return 0;
}

if (onlyPhases)
{
    // Rules with per-tensor reductions, fused in phases: each phase before the last reads what its reductions need,
    // the last reads and writes like a one-pass rule. Bytes per element, fp32: LAMB reads p, g, m, v twice and writes
    // p, m, v (44); LARS reads p, g, then p, g, buffer and writes p, buffer (28); Cautious AdamW reads g, m for its
    // mask, then p, g, m, v and writes p, m, v (36); Cautious Lion reads g, m, then p, g, m and writes p, m (28).
    // The rules whose reductions the host combines between phases (one wait for the device a phase): DoG reads p, g,
    // x0, then p, g and writes p (24); Prodigy reads p, g, x0, s, then p, g, m, v, s and writes p, m, v, s (52);
    // Momentum-SAM reads p, g, v, then p, g, v and writes p, v (32); Stable-SPAM reads g twice, then p, g, m, v and
    // writes p, m, v (36); SGD-SaI reduces at its first step only: p, g, buffer read and p, buffer written (20).
    // Adam-mini, row by row (a warp a row), reads g for its rows' mean squares, then p, g, m and writes p, m (24; its
    // state per row is a row's worth).
    foreach (var (name, bytes, create) in new (string, int, Func<Parameter[], DeclaredOptimizer>)[]
    {
        ("AdamW", 28, ps => new OptDsl.Optimizers.AdamW(ps, lr: 1e-3)),
        ("LAMB", 44, ps => new OptDsl.Optimizers.Lamb(ps, lr: 1e-3)),
        ("LARS", 28, ps => new OptDsl.Optimizers.Lars(ps, lr: 1e-2)),
        ("Cautious AdamW", 36, ps => new OptDsl.Optimizers.CautiousAdamW(ps, lr: 1e-3)),
        ("Cautious Lion", 28, ps => new OptDsl.Optimizers.CautiousLion(ps, lr: 1e-4)),
        ("DoG", 24, ps => new OptDsl.Optimizers.DoG(ps)),
        ("Prodigy", 52, ps => new OptDsl.Optimizers.Prodigy(ps)),
        ("Momentum-SAM", 32, ps => new OptDsl.Optimizers.MomentumSam(ps, lr: 1e-2)),
        ("Stable-SPAM", 36, ps => new OptDsl.Optimizers.StableSpam(ps)),
        ("SGD-SaI", 20, ps => new OptDsl.Optimizers.SgdSai(ps)),
        ("Adam-mini", 24, ps => new OptDsl.Optimizers.AdamMini(ps)),
    })
    {
        CopyFloor(bytes);
        var ps = Parameters();
        using var optimizer = create(ps);
        optimizer.Backend = UpdateBackend.Fused;
        optimizer.step();
        torch.cuda.synchronize();
        Console.WriteLine($"  {name}: {optimizer.FusedStatus}");
        Record($"OptDsl {name}, fused CUDA", Median(() => optimizer.step()));
        optimizer.Backend = UpdateBackend.Portable;
        Record($"OptDsl {name}, portable", Median(() => optimizer.step(), windows: 5, perWindow: 3));
        foreach (var p in ps) p.Dispose();
    }
    File.WriteAllText(args.FirstOrDefault(a => !a.StartsWith("--")) ?? "csharp.json", JsonSerializer.Serialize(results));
    return 0;
}

if (onlyQ8)
{
    // AdamW with float32 moments against 8-bit moments read and written in the kernel: 28 B against 16 B an element
    // (p, g read; p written; codes read and written; block scales 1/64 B).
    CopyFloor(28);
    CopyFloor(16);
    foreach (bool q8 in new[] { false, true })
    {
        var ps = Parameters();
        using var adamw = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused };
        if (q8)
        {
            adamw.QuantizeState("m");
            adamw.QuantizeState("v");
        }
        adamw.step();
        torch.cuda.synchronize();
        string name = q8 ? "OptDsl AdamW 8-bit state, fused CUDA" : "OptDsl AdamW fp32 state, fused CUDA";
        Console.WriteLine($"{name}: state {adamw.StateBytes:N0} bytes ({adamw.StateBytesPerElement():F3} per element); {adamw.FusedStatus}");
        results[name + " state bytes"] = adamw.StateBytes;
        Record(name, Median(() => adamw.step()));
    }
    File.WriteAllText(args.FirstOrDefault(a => !a.StartsWith("--")) ?? "csharp.json", JsonSerializer.Serialize(results));
    return 0;
}

if (!onlyMuon && !onlyClip)
{
    CopyFloor(28);
    {
        var ps = Parameters();
        using var adamw = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused };
        var compile = Stopwatch.StartNew();
        adamw.step();
        torch.cuda.synchronize();
        Console.WriteLine($"first fused AdamW step (kernel {adamw.FusedStatus}): {compile.Elapsed.TotalMilliseconds:F0} ms");
        Record("OptDsl AdamW, fused CUDA", Median(() => adamw.step()));
        // Host time alone: steps enqueue kernels without waiting, so this is the CPU's share of a step.
        torch.cuda.synchronize();
        var host = Stopwatch.StartNew();
        for (int i = 0; i < 10; i++) adamw.step();
        Console.WriteLine($"  host time of a fused AdamW step: {host.Elapsed.TotalMilliseconds / 10:F3} ms");
        torch.cuda.synchronize();
        adamw.Backend = UpdateBackend.Portable;
        Record("OptDsl AdamW, portable", Median(() => adamw.step(), windows: 5, perWindow: 3));
    }
    {
        var ps = Parameters();
#pragma warning disable RS0030 // the peer measured; its step() still passes temporary Scalars
        using var builtin = torch.optim.AdamW(ps, lr: 1e-3, weight_decay: 1e-2);
#pragma warning restore RS0030
        Record("TorchSharp AdamW (built-in)", Median(() => builtin.step(), windows: 5, perWindow: 3));
    }
    CopyFloor(20);
    {
        var ps = Parameters();
        using var lion = new OptDsl.Optimizers.Lion(ps, lr: 1e-4, weightDecay: 0.1) { Backend = UpdateBackend.Fused };
        Record("OptDsl Lion, fused CUDA", Median(() => lion.step()));
    }
    {
        var ps = Parameters();
        using var sgd = new OptDsl.Optimizers.SGD(ps, lr: 1e-2, momentum: 0.9, nesterov: true, weightDecay: 1e-4) { Backend = UpdateBackend.Fused };
        Record("OptDsl SGD Nesterov, fused CUDA", Median(() => sgd.step()));
    }

    CopyFloor(22);
    {
        // bfloat16 parameters and gradients, float32 moments: reads 2 + 2 + 4 + 4 bytes and writes 2 + 4 + 4 per element.
        var ps = shapes.Select(s => new Parameter(torch.randn(s, device: torch.CUDA).mul(kept[0.02]).to(ScalarType.BFloat16))).ToArray();
        using (torch.no_grad())
            foreach (var p in ps) p.grad = torch.randn_like(p, dtype: ScalarType.Float32).mul(kept[1e-3]).to(ScalarType.BFloat16);
        using var adamw = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused };
        Record("OptDsl AdamW bf16 params, fused CUDA", Median(() => adamw.step()));
    }
}

if (!onlyMuon)
{
    // Global-norm clipping in front of fused AdamW: its factor handed to the kernel (one extra read of the gradients:
    // the norm), and scaled into the gradients first as PyTorch does (three: the norm, then a read and a write).
    var ps = Parameters();
    using var plain = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused };
    Record("OptDsl AdamW, fused CUDA (no clipping)", Median(() => plain.step()));
    foreach (var (name, fold) in new[] { ("OptDsl ClipGradNorm + AdamW, factor in kernel", true), ("OptDsl ClipGradNorm + AdamW, grads scaled", false) })
    {
        using var clipped = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3) { Backend = UpdateBackend.Fused }
            .Compose(new ClipGradNorm(1.0, foldIntoUpdate: fold));
        Record(name, Median(() => clipped.step()));
    }
}

if (!onlyClip)
{
    // Muon on the 48 hidden matrices: momentum, 5 Newton-Schulz iterations in bf16, update. Compare with
    // pytorch_muon.py's per-matrix loop and per-shape batched chain, run in the same command.
    var ps = Gpt2Shapes.HiddenMatrices().Select(s => new Parameter(torch.randn(s, device: torch.CUDA).mul(kept[0.02]))).ToArray();
    using (torch.no_grad())
        foreach (var p in ps) p.grad = torch.randn_like(p).mul(kept[1e-3]);
    using var muon = new OptDsl.Optimizers.Muon(ps, lr: 0.02);
    Record("OptDsl Muon, 48 hidden matrices", Median(() => muon.step(), windows: 9, perWindow: 5));
    Record("  host time to issue one Muon step", HostMs(() => muon.step()));
    // Where the rest goes: the same step with the elementwise work as TorchSharp operations, and with no iterations
    // (the two fused phases, the batches' normalisation and the copies of the tall results).
    using (var portableMuon = new OptDsl.Optimizers.Muon(ps, lr: 0.02) { Backend = UpdateBackend.Portable })
        Record("OptDsl Muon, portable elementwise work", Median(() => portableMuon.step(), windows: 9, perWindow: 5));
    using (var noIterations = new OptDsl.Optimizers.Muon(ps, lr: 0.02, nsSteps: 0))
    {
        Record("OptDsl Muon, no Newton-Schulz iterations", Median(() => noIterations.step(), windows: 9, perWindow: 5));
        Record("  host time to issue one such step", HostMs(() => noIterations.step()));
    }
    // Polar Express's polynomials instead of the fixed quintic: the same products, other coefficients.
    using (var polar = new OptDsl.Optimizers.Muon(ps, lr: 0.02, polarExpress: true))
        Record("OptDsl Muon, Polar Express", Median(() => polar.step(), windows: 9, perWindow: 5));
    // Its variants on the same matrices: the Newton-Schulz work is the same, the elementwise work around it grows.
    using var norMuon = new OptDsl.Optimizers.NorMuon(ps, lr: 0.02);
    Record("OptDsl NorMuon, 48 hidden matrices", Median(() => norMuon.step(), windows: 9, perWindow: 5));
    Record("  host time to issue one NorMuon step", HostMs(() => norMuon.step()));
    using var adaMuon = new OptDsl.Optimizers.AdaMuon(ps, lr: 1e-3);
    Record("OptDsl AdaMuon, 48 hidden matrices", Median(() => adaMuon.step(), windows: 9, perWindow: 5));
    Record("  host time to issue one AdaMuon step", HostMs(() => adaMuon.step()));
    // Where the time goes: the four per-shape bf16 Newton-Schulz chains alone, on inputs already stacked.
    var batches = Gpt2Shapes.HiddenMatrices().GroupBy(s => (s[0], s[1]))
        .Select(g => torch.randn(new[] { g.Count(), g.Key.Item1, g.Key.Item2 }, device: torch.CUDA).to(ScalarType.BFloat16)).ToArray();
    Record("OptDsl Newton-Schulz alone, 4 bf16 batches", Median(() =>
    {
        using var scope = torch.NewDisposeScope();
        foreach (var b in batches) OptDsl.Runtime.Backends.Portable.MatrixMath.Orthogonalize(b, 5, 3.4445, -4.7750, 2.0315);
    }, windows: 9, perWindow: 5));
    // The same four batches in one call, as the fused path hands them over: one m x m chain for all of them.
    Record("OptDsl Newton-Schulz alone, 4 bf16 batches in one call", Median(() =>
    {
        using var scope = torch.NewDisposeScope();
        OptDsl.Runtime.Backends.Portable.MatrixMath.Orthogonalize(batches, 5, 3.4445, -4.7750, 2.0315);
    }, windows: 9, perWindow: 5));
    Record("  host time to issue them in one call", HostMs(() =>
    {
        using var scope = torch.NewDisposeScope();
        OptDsl.Runtime.Backends.Portable.MatrixMath.Orthogonalize(batches, 5, 3.4445, -4.7750, 2.0315);
    }));
}

File.WriteAllText(args.FirstOrDefault(a => !a.StartsWith("--")) ?? "csharp.json", JsonSerializer.Serialize(results));
return 0;
