using System;
using System.Linq;
using OptDsl.GpuCheck;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Native;
using OptDsl.Runtime.Services.Random;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// On a CUDA device: every catalog optimizer's fused kernel and portable path against the CPU tests' references,
// then fused against portable over many tensors of awkward sizes.
// Usage on the GPU machine: OPTDSL_LIBTORCH=<torch/lib> OptDsl.GpuCheck <trajectories.json> [--q8 | --curvature | --zo | --phases]
Console.WriteLine("native loading: " + TorchSharpNative.Outcome);
torch.InitializeDeviceType(DeviceType.CUDA);
if (!torch.cuda.is_available())
{
    Console.WriteLine("no CUDA device");
    return 2;
}
int failures = 0;
void ZerothOrderSection()
{
    Console.WriteLine();
    Console.WriteLine("11. Zeroth-order steps on CUDA: round trip, 10 MeZO steps (q = 2, sparsity 0.3) against the CPU, replay on CUDA");
    var (roundTrip, relative, replay, kept) = OptDsl.GpuCheck.ZerothOrderCheck.Run(CUDA);
    // The noise is identical on both; the losses are reduced in another order, so the projected gradients differ in
    // their last bits (relative 1e-6 or so), and so does the movement.
    bool ok = roundTrip && replay && relative < 1e-3;
    if (!ok) failures++;
    Console.WriteLine($"   round trip bit for bit: {roundTrip}; CUDA vs CPU, worst tensor, relative to its movement: {relative:E2}; " +
                      $"replay bit for bit: {replay}; elements kept for the way back: {kept} of 1004112 {(ok ? "" : "FAIL")}");
}
void PhasesSection()
{
    Console.WriteLine();
    Console.WriteLine($"14. Rules with per-tensor reductions, fused in phases: against the portable path on the {ManyTensors.Count} tensors (30 steps), and determinism");
    Console.WriteLine($"{"rule",-16} {"dtype",-9} {"max |fused - portable|",24} {"max relative",14} {"beyond",7}");
    foreach (var name in OptDsl.GpuCheck.PhasesCheck.Names)
    {
        foreach (var (dtype, limit) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.BFloat16, 2.0 / 256) })
        {
            // As sections 2 and 3: a few ulps a step apart (the reductions summed in another order too); Cautious masks are sign
            // tests, so an element within rounding of zero may flip: elements beyond the limit must stay rarer than 1 in 10,000.
            var (absolute, relative, beyond, status) = ManyTensors.Compare(OptDsl.GpuCheck.PhasesCheck.Case(name), steps: 30, dtype, beyondRelative: limit,
            create: ps => OptDsl.GpuCheck.PhasesCheck.Create(name, ps));
            bool ok = beyond * 10_000 <= ManyTensors.Elements && status.Contains("phases");
            if (!ok) failures++;
            Console.WriteLine($"{name,-16} {dtype,-9} {absolute,24:E2} {relative,14:E2} {beyond,7} {(ok ? "" : "FAIL " + status)}");
        }
        var (repeated, batched, kernel) = OptDsl.GpuCheck.PhasesCheck.Deterministic(name);
        if (!repeated || !batched) failures++;
        Console.WriteLine($"{name,-16} two runs bit for bit: {repeated}; one optimizer vs one per tensor bit for bit: {batched} {(repeated && batched ? "" : "FAIL")}");
        Console.WriteLine($"{"",-16} kernel: {kernel}");
    }
    // Reductions the host combines between phases (over the step or a group, or for scalar state): fused on CUDA too.
    foreach (var name in OptDsl.GpuCheck.PhasesCheck.HostCombined)
    {
        foreach (var (dtype, limit) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.BFloat16, 2.0 / 256) })
        {
            var (absolute, relative, beyond, status) = ManyTensors.Compare(OptDsl.GpuCheck.PhasesCheck.Case(name), steps: 30, dtype, beyondRelative: limit,
                create: ps => OptDsl.GpuCheck.PhasesCheck.CreateHostCombined(name, ps));
            bool ok = beyond * 10_000 <= ManyTensors.Elements && status.Contains("the host combines them after each phase");
            if (!ok) failures++;
            Console.WriteLine($"{name,-16} {dtype,-9} {absolute,24:E2} {relative,14:E2} {beyond,7} {(ok ? "" : "FAIL " + status)}");
        }
        var (againstCpu, repeated, kernel) = OptDsl.GpuCheck.PhasesCheck.AgainstTheCpu(name);
        bool agrees = againstCpu <= 1e-4 && repeated;
        if (!agrees) failures++;
        Console.WriteLine($"{name,-16} fused CUDA against the fused CPU path, 8 steps: max relative {againstCpu:E2}; two CUDA runs bit for bit: {repeated} {(agrees ? "" : "FAIL")}");
        Console.WriteLine($"{"",-16} kernel: {kernel}");
    }
}
void RowsSection()
{
    Console.WriteLine();
    Console.WriteLine("17. Rules with work per row, fused on CUDA row by row: against the portable path and the fused CPU path (8 steps), and determinism");
    Console.WriteLine($"{"rule",-24} {"dtype",-9} {"max relative to portable",25} {"beyond",7} {"to fused CPU",13} {"runs",5} {"batching",9}");
    foreach (var name in OptDsl.GpuCheck.RowsCheck.Names)
        foreach (var (dtype, limit) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.BFloat16, 2.0 / 256) })
        {
            var (portable, beyond, elements, cpu, repeated, batched, status) = OptDsl.GpuCheck.RowsCheck.Check(name, dtype, steps: 8, limit);
            // As section 14: a few ulps a step apart, the row sums in another order; elements beyond the limit rarer than
            // 1 in 10,000; the fused CPU path within 1e-4 in float32. The rules that orthogonalise do it in bfloat16 on
            // CUDA (both of its paths) and in float32 on the CPU: 8 steps of lr 0.02 moving by bf16's relative rounding
            // (2^-8) of a unit-scale update is 6e-4 (NorMuon measured 1.2e-3 on an H200): 4e-3 bounds it.
            double cpuLimit = name is "NorMuon" or "Swan" ? 4e-3 : 1e-4;
            bool ok = beyond * 10_000 <= elements && (dtype != ScalarType.Float32 || cpu <= cpuLimit) && repeated && batched
                      && status.Contains("phases") && !status.Contains("portable");
            if (!ok) failures++;
            Console.WriteLine($"{name,-24} {dtype,-9} {portable,25:E2} {beyond,7} {cpu,13:E2} {repeated,5} {batched,9} {(ok ? "" : "FAIL " + status)}");
            if (dtype == ScalarType.Float32) Console.WriteLine($"{"",-24} {status}");
        }
}
void RoundingSection()
{
    Console.WriteLine();
    Console.WriteLine("16. Stochastic rounding and Kahan compensation fused on CUDA, composed modifiers and the newest catalog rules");
    bool portable = OptDsl.GpuCheck.RoundingCheck.PortableSameBits();
    if (!portable) failures++;
    Console.WriteLine($"   portable stochastic rounding, CUDA vs CPU, 200,010 values of every kind, bit for bit: {portable} {(portable ? "" : "FAIL")}");
    foreach (var (type, rounding) in new[] { (ScalarType.BFloat16, HalfPrecisionRounding.Stochastic), (ScalarType.BFloat16, HalfPrecisionRounding.Kahan), (ScalarType.Float16, HalfPrecisionRounding.Kahan) })
    {
        var (same, status) = OptDsl.GpuCheck.RoundingCheck.FusedAgainstCpu(type, rounding);
        bool ok = same && status.Contains("sm_");
        if (!ok) failures++;
        Console.WriteLine($"   SGD {type} {rounding}, fused CUDA vs portable CPU, 8 exact steps, parameters{(rounding == HalfPrecisionRounding.Kahan ? " and buffers" : "")} bit for bit: {same} {(ok ? "" : "FAIL " + status)}");
    }
    {
        var (compensated, apart) = OptDsl.GpuCheck.RoundingCheck.EightBitKahan();
        bool ok = compensated && apart <= 1f / 128;
        if (!ok) failures++;
        Console.WriteLine($"   SGD, 8-bit momentum, bf16 Kahan on CUDA: buffer used {compensated}, apart from the portable path by {apart:E2} (at most 1/128) {(ok ? "" : "FAIL")}");
    }
    Console.WriteLine($"{"rule",-28} {"dtype",-9} {"max |fused - portable|",24} {"max relative",14} {"beyond",7}");
    var rules = new (string Name, Func<Parameter[], DeclaredOptimizer> Create)[]
    {
        ("LaProp", ps => new LaProp(ps)), ("MarsLion", ps => new MarsLion(ps)), ("ScheduleFreeRAdam", ps => new ScheduleFreeRAdam(ps)),
        ("Spam", ps => new Spam(ps)), ("AdamAtan2", ps => new AdamAtan2(ps)), ("ScheduleFreeSgd", ps => new ScheduleFreeSgd(ps)),
        ("MarsAdamW", ps => new MarsAdamW(ps)), ("GrokMarsCautiousYogi", ps => new GrokMarsCautiousYogi(ps)),
        ("AdamW, bf16 stochastic", ps => new OptDsl.Optimizers.AdamW(ps) { Rounding = HalfPrecisionRounding.Stochastic }),
        ("AdamW, bf16 Kahan", ps => new OptDsl.Optimizers.AdamW(ps) { Rounding = HalfPrecisionRounding.Kahan }),
        ("Lamb, bf16 Kahan (phases)", ps => new Lamb(ps) { Rounding = HalfPrecisionRounding.Kahan }),
    };
    foreach (var (name, create) in rules)
        foreach (var (dtype, limit) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.BFloat16, 2.0 / 256) })
        {
            if (name.Contains("bf16") && dtype != ScalarType.BFloat16) continue;
            // As section 14: fused and portable round in another order; elements beyond the limit must stay rarer than 1 in 10,000.
            var (absolute, relative, beyond, status) = ManyTensors.Compare(OptDsl.GpuCheck.PhasesCheck.Case(name), steps: 30, dtype, beyondRelative: limit, create: create);
            bool ok = beyond * 10_000 <= ManyTensors.Elements && status.Contains("sm_");
            if (!ok) failures++;
            Console.WriteLine($"{name,-28} {dtype,-9} {absolute,24:E2} {relative,14:E2} {beyond,7} {(ok ? "" : "FAIL " + status)}");
        }
}
if (args.Contains("--rounding"))
{
    RoundingSection();
    Console.WriteLine(failures == 0 ? "ALL PASSED" : $"{failures} FAILED");
    return failures == 0 ? 0 : 1;
}
if (args.Contains("--rows"))
{
    RowsSection();
    Console.WriteLine(failures == 0 ? "ALL PASSED" : $"{failures} FAILED");
    return failures == 0 ? 0 : 1;
}
if (args.Contains("--phases"))
{
    PhasesSection();
    Console.WriteLine(failures == 0 ? "phases check passed" : "phases check failed");
    return failures == 0 ? 0 : 1;
}
if (args.Contains("--q8"))
{
    var (relative, codesDiffer, status) = OptDsl.GpuCheck.QuantizedCheck.Run(CUDA);
    Console.WriteLine($"8-bit: max |fused - portable| / movement {relative:E2}; codes differing {codesDiffer:E2}; {status}");
    return 0;
}
if (args.Contains("--curvature"))
{
    CurvatureSection();
    Console.WriteLine(failures == 0 ? "curvature check passed" : "curvature check failed");
    return failures == 0 ? 0 : 1;
}
void CurvatureSection()
{
    Console.WriteLine();
    Console.WriteLine("12. Sophia, Prodigy, NAG-GS: 12 steps in float32 on CUDA against float64 on the CPU; SOAP against its characterisation; PSGD Kron; the curvature estimators");
    foreach (var (name, path, error) in OptDsl.GpuCheck.CurvatureCheck.Optimizers(CUDA))
    {
        // float32 rounding over 12 steps; Prodigy's d amplifies it (its CPU test bounds float32 at ~1e-4), SOAP's
        // eigenbases carry float32 eigensolver error.
        bool ok = error < 1e-3;
        if (!ok) failures++;
        Console.WriteLine($"   {name,-8} ({path}): max |CUDA f32 - CPU f64| {error:E2} {(ok ? "" : "FAIL")}");
    }
    {
        // float32 rotations leave ~1e-7·|G| in the directions whose coefficients are zero; over eps = 1e-4 that is up to
        // ~5e-3 of a step there (the CPU in float32: 1.9e-3 of the movement).
        double soap = OptDsl.GpuCheck.CurvatureCheck.Soap(CUDA);
        bool close = soap < 1e-2;
        if (!close) failures++;
        Console.WriteLine($"   SOAP     (eigh, QR): against Adam on the coefficients, relative to the movement {soap:E2} {(close ? "" : "FAIL")}");
    }
    {
        // float64 on either device: the same operations but for libraries' summation orders (1e-9 of the movement is
        // room for them through 12 preconditioner updates); float32: its rounding through the triangular solves (8.4e-7 on
        // an H200, 2026-12-04).
        var (f64, f32) = OptDsl.GpuCheck.CurvatureCheck.PsgdKron(CUDA);
        bool ok = f64 < 1e-9 && f32 < 1e-5;
        if (!ok) failures++;
        Console.WriteLine($"   PSGD Kron: CUDA f64 vs CPU f64 {f64:E2}, CUDA f32 vs CPU f64 {f32:E2} of the movement {(ok ? "" : "FAIL")}");
    }
    {
        var (hutchinson, sameLabels, gnb) = OptDsl.GpuCheck.CurvatureCheck.Estimators(CUDA);
        bool ok = hutchinson < 1e-4 && sameLabels && gnb < 1e-4;
        if (!ok) failures++;
        Console.WriteLine($"   Hutchinson relative {hutchinson:E2}; GNB labels identical: {sameLabels}, estimate relative {gnb:E2} {(ok ? "" : "FAIL")}");
    }
}
if (args.Contains("--zo"))
{
    ZerothOrderSection();
    Console.WriteLine(failures == 0 ? "zeroth-order check passed" : "zeroth-order check failed");
    return failures == 0 ? 0 : 1;
}
var fixture = ReferenceFixture.Load(args[0]);
var device = torch.CUDA;

Console.WriteLine();
Console.WriteLine("1. Against the references (30 steps, tensors of 91, 33, 1, 60 elements); max |ours - reference| after step 30");
Console.WriteLine($"{"case",-36} {"portable f64",13} {"portable f32",13} {"fused f32",13}");
foreach (var c in fixture.Cases)
{
    var f64 = TrajectoryCheck.Run(fixture, c, ScalarType.Float64, device, relative: 1e-12, UpdateBackend.Portable);
    var portable = TrajectoryCheck.Run(fixture, c, ScalarType.Float32, device, relative: 0, UpdateBackend.Portable);
    var fused = TrajectoryCheck.Run(fixture, c, ScalarType.Float32, device, relative: 0, UpdateBackend.Fused);
    bool ok = f64.WorstExcess <= 1e-13 && portable.WorstExcess <= 2e-5 && fused.WorstExcess <= 2e-5;
    if (!ok) failures++;
    Console.WriteLine($"{c.Optimizer + "/" + c.Name,-36} {f64.MaxDifferenceAtLastStep,13:E2} {portable.MaxDifferenceAtLastStep,13:E2} {fused.MaxDifferenceAtLastStep,13:E2} {(ok ? "" : "FAIL")}");
}

Console.WriteLine();
Console.WriteLine($"2. Fused against portable on {ManyTensors.Count} tensors ({ManyTensors.Elements} elements: empty, 1, odd, chunk-edge, 1M+ sizes, misaligned views), 30 steps");
Console.WriteLine($"{"case",-36} {"max |fused - portable|",24} {"max relative",14} {"> 1e-4",7}  kernel");
foreach (var c in fixture.Cases)
{
    var (absolute, relative, beyond, status) = ManyTensors.Compare(c, steps: 30);
    // Both paths round in fp32 but in a different order (and the kernel contracts a*b+c into FMAs): agreement to a
    // few ulps per step, and 1e-4 relative bounds 30 steps of that with a wide margin. A sign-based rule (Lion) is
    // discontinuous: where its momentum comes within an ulp of zero the two roundings may take opposite signs and
    // that element moves by 2 lr. Such elements must stay rarer than 1 in 100,000.
    bool ok = relative <= 1e-4 || beyond * 100_000 <= ManyTensors.Elements;
    if (!ok) failures++;
    Console.WriteLine($"{c.Optimizer + "/" + c.Name,-36} {absolute,24:E2} {relative,14:E2} {beyond,7}  {(ok ? "" : "FAIL ")}{status}");
}

foreach (var (half, ulp) in new[] { (ScalarType.BFloat16, 1.0 / 256), (ScalarType.Float16, 1.0 / 2048) })
{
    Console.WriteLine();
    Console.WriteLine($"3. {half} parameters (float32 state and math): fused against portable on the same {ManyTensors.Count} tensors, 30 steps");
    Console.WriteLine($"{"case",-36} {"max |fused - portable|",24} {"max relative",14} {"> 2 ulp",8}");
    foreach (var c in fixture.Cases)
    {
        // Both compute the same float32 values up to rounding order and round them into the half type once per step;
        // where a float32 result sits at a rounding boundary the two may land one half-precision ulp apart, and the
        // trajectories drift from there. Elements more than two ulps apart must stay rarer than 1 in 10,000.
        var (absolute, relative, beyond, _) = ManyTensors.Compare(c, steps: 30, half, beyondRelative: 2 * ulp);
        bool ok = beyond * 10_000 <= ManyTensors.Elements;
        if (!ok) failures++;
        Console.WriteLine($"{c.Optimizer + "/" + c.Name,-36} {absolute,24:E2} {relative,14:E2} {beyond,8} {(ok ? "" : "FAIL")}");
    }
}

Console.WriteLine();
Console.WriteLine("4. Exact resume on CUDA (fused AdamW with scheduled lr and beta2): 7 steps, checkpoint, a fresh optimizer, 9 more");
{
    bool identical = ResumeCheck.Run();
    if (!identical) failures++;
    Console.WriteLine(identical ? "   bit-identical to 16 uninterrupted steps" : "   FAIL: differs from 16 uninterrupted steps");
}

Console.WriteLine();
Console.WriteLine("5. A composed recipe on CUDA: 2 micro-batches per update, clip to global norm 0.5, fused AdamW with WSD lr, Lookahead(3, 0.5), EMA(0.9)");
{
    // fp32 against fp64 over 12 AdamW updates of lr <= 0.01: rounding stays near 1e-6 (section 1's figures);
    // 1e-5 leaves room for the clip coefficient's fp32 norm and Lookahead's interpolation.
    var (weights, average) = ComposedCheck.AgainstCpu();
    bool close = weights <= 1e-5 && average <= 1e-5;
    if (!close) failures++;
    Console.WriteLine($"   max |CUDA fp32 - CPU fp64| after 12 updates: weights {weights:E2}, EMA {average:E2} {(close ? "" : "FAIL")}");
    var difference = ComposedCheck.ResumeDifference();
    if (difference is not null) failures++;
    Console.WriteLine(difference is null
        ? "   resumed after 5 updates from a checkpoint: weights, slow weights and EMA bit-identical to 12 uninterrupted updates"
        : $"   FAIL: resumed after 5 updates from a checkpoint, {difference}");
}

Console.WriteLine();
Console.WriteLine("6. Schedule-free AdamW, fused on CUDA in fp32 against the portable path in fp64 on the CPU, 20 steps (warmup 5, weight decay 0.1)");
{
    // The CPU tests hold the fp64 path to the paper's recurrences at 1e-12; fp32 rounding over 20 steps stays near 1e-6.
    var (y, x, status) = ScheduleFreeCheck.AgainstCpu();
    bool close = y <= 1e-5 && x <= 1e-5 && status.Contains("sm_");
    if (!close) failures++;
    Console.WriteLine($"   max |CUDA - CPU|: y (parameters) {y:E2}, x (swapped-in average) {x:E2}; {status} {(close ? "" : "FAIL")}");
}

Console.WriteLine();
Console.WriteLine("7. Newton-Schulz optimizers on CUDA (bf16, the Gram form for oblong matrices) against float64 on the CPU: 64x192 (twice: batched), 256x64, 32x3x3x3, 6 steps");
foreach (var (name, create, elementwise) in new (string, Func<Parameter[], DeclaredOptimizer>, bool)[]
{
    ("Muon", ps => new Muon(ps, lr: 0.02, weightDecay: 0.01), false),
    ("Muon, Polar Express", ps => new Muon(ps, lr: 0.02, weightDecay: 0.01, polarExpress: true), false),
    ("NorMuon", ps => new NorMuon(ps, lr: 0.02, weightDecay: 0.01), false),
    ("NorMuon, rmsMatch", ps => new NorMuon(ps, lr: 1e-3, weightDecay: 0.01, rmsMatch: true), false),
    ("AdaMuon", ps => new AdaMuon(ps, lr: 1e-3), true),
    ("AdaMuon, no sign", ps => new AdaMuon(ps, lr: 1e-3, signMomentum: false), true),
    ("Scion, spectral", ps => new Scion(ps, lr: 0.01, scale: 3), false),
    ("SWAN", ps => new Swan(ps, lr: 0.01, weightDecay: 0.01), false),
})
{
    // bf16 keeps 8 bits of mantissa: the orthogonalised update is off by about 1% relative, so the weights' movement
    // over 6 steps is too; 5% leaves room, and a wrong transpose, scale or coefficient is off by far more. AdaMuon
    // divides each element by its own root second moment, so its first step is the sign of the orthogonalised update:
    // where bf16 rounding flips an element near zero, that element moves the other way. Its worst element says
    // little; its Frobenius error (the flipped elements' share) is checked instead, against 10%.
    var (max, frobenius) = NewtonSchulzCheck.RelativeToMovement(create);
    bool close = elementwise ? frobenius <= 0.10 : max <= 0.05;
    if (!close) failures++;
    Console.WriteLine($"   {name}: max |CUDA - CPU| / max |movement|, worst tensor: {max:E2}; Frobenius: {frobenius:E2} {(close ? "" : "FAIL")}");
}

Console.WriteLine("   Fused on CUDA in phases around the batched orthogonalisation, against the portable path on CUDA (11 matrices of 8 shapes, 6 steps):");
foreach (var (name, create, elementwise) in new (string, Func<Parameter[], DeclaredOptimizer>, bool)[]
{
    ("Muon", ps => new Muon(ps, lr: 0.02, weightDecay: 0.01), false),
    ("Muon, Polar Express", ps => new Muon(ps, lr: 0.02, weightDecay: 0.01, polarExpress: true), false),
    ("AdaMuon", ps => new AdaMuon(ps, lr: 1e-3), true),
})
{
    // Both paths orthogonalise the same bf16 batches; their inputs differ only where float32 rounding of the momentum
    // (kernel against TorchSharp operations) moves a value across a bf16 rounding boundary: measured 0.7% of the
    // movement at most, against 1%. AdaMuon's sign per element can flip there (see above): its Frobenius error is checked.
    var (max, frobenius, repeatable, status) = MatrixPhasesCheck.Compare(create);
    bool close = (elementwise ? frobenius : max) <= 0.01 && repeatable && status.Contains("phases");
    if (!close) failures++;
    Console.WriteLine($"   {name}: max |fused - portable| / max |movement|, worst tensor: {max:E2}; Frobenius: {frobenius:E2}; two fused runs bit for bit: {repeatable}; {status} {(close ? "" : "FAIL")}");
}

Console.WriteLine();
Console.WriteLine("8. ClipGradNorm's factor in the fused AdamW kernel against gradients scaled in place, 5 steps");
{
    var (identical, kept) = OptDsl.Tests.Runtime.ClipFolding.FoldedAgainstInPlace(CUDA);
    if (!identical || !kept) failures++;
    Console.WriteLine($"   parameters bit for bit: {identical}; gradients left as they were: {kept} {(identical && kept ? "" : "FAIL")}");
}

Console.WriteLine();
Console.WriteLine("9. ClipGradNorm's multi-tensor norm on CUDA against float64 on the CPU: 300 tensors, one of 30M elements");
foreach (bool large in new[] { true, false })
{
    // The small (4 KB) layout takes 320 chunks and 110 tensors a launch, so the 30M-element tensor (458 chunks) and
    // the 300 tensors both span launches; float32 partials are good to about 1e-6 relative.
    OptDsl.Runtime.Backends.Cuda.MultiTensorNorm.UseLayout(large);
    foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        foreach (var p in new[] { 2.0, 1.0, 3.0, double.PositiveInfinity })
        {
            double error = OptDsl.Tests.Runtime.ClipFolding.NormRelativeError(CUDA, dtype, p, 300, 30_000_000);
            bool close = error < 1e-5;
            if (!close) failures++;
            Console.WriteLine($"   {(large ? "32 KB" : "4 KB")} layout, {dtype}, p = {p}: relative error {error:E2} {(close ? "" : "FAIL")}");
        }
}
OptDsl.Runtime.Backends.Cuda.MultiTensorNorm.UseLayout(null);

Console.WriteLine();
Console.WriteLine("10. Counter-based normals (Philox + Box-Muller) on CUDA against the host code, bit for bit: 10M elements from index 2^32 - 5M");
{
    const long count = 10_000_000, offset = (1L << 32) - 5_000_000;
    var cuda = CounterRandomTensors.Normal(0xC0FFEE, 17, new[] { count }, CUDA, offset).cpu();
    var host = CounterRandomTensors.Normal(0xC0FFEE, 17, new[] { count }, CPU, offset);
    long differ = cuda.ne(host).sum().item<long>();
    bool uniformSame = CounterRandomTensors.Uniform(3, 4, new[] { count }, CUDA).cpu().ne(CounterRandomTensors.Uniform(3, 4, new[] { count }, CPU)).sum().item<long>() == 0;
    if (differ != 0 || !uniformSame) failures++;
    Console.WriteLine($"   normals differing: {differ} of {count}; uniforms identical: {uniformSame} {(differ == 0 && uniformSame ? "" : "FAIL")}");
}

ZerothOrderSection();

CurvatureSection();

Console.WriteLine();
Console.WriteLine("13. 8-bit AdamW state in the fused CUDA kernel against the portable path's dequantize-step-quantize, 20 steps");
{
    var (relative, codesDiffer, status) = OptDsl.GpuCheck.QuantizedCheck.Run(CUDA);
    // Both quantize with the same map, scale and rounding; the step's float32 arithmetic differs in order (kernel vs
    // tensor operations), so a value within rounding of a midpoint between two codes may land on either.
    bool ok = relative < 1e-2 && codesDiffer < 1e-3 && status.Contains("8-bit state read and written in the kernel");
    if (!ok) failures++;
    Console.WriteLine($"   weights: max |fused - portable| / movement {relative:E2}; codes differing {codesDiffer:E2} {(ok ? "" : "FAIL")}");
    Console.WriteLine($"   kernel: {status}");
}

PhasesSection();
RoundingSection();
RowsSection();

Console.WriteLine();
Console.WriteLine(failures == 0 ? $"all checks passed on {torch.cuda.device_count()} CUDA device(s)" : $"{failures} checks failed");
return failures == 0 ? 0 : 1;
