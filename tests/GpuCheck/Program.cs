using System;
using System.Linq;
using OptDsl.Runtime.Native;
using OptDsl.Tests.Catalog;
using TorchSharp;
using static TorchSharp.torch;

// The portable backend of every catalog optimizer on a CUDA device, against the same references as the CPU tests.
// Usage on the GPU machine: OPTDSL_LIBTORCH=<torch/lib> OptDsl.GpuCheck <trajectories.json>
Console.WriteLine("native loading: " + TorchSharpNative.Outcome);
torch.InitializeDeviceType(DeviceType.CUDA);
if (!torch.cuda.is_available())
{
    Console.WriteLine("no CUDA device");
    return 2;
}
var fixture = ReferenceFixture.Load(args[0]);
var device = torch.CUDA;
int failures = 0;
Console.WriteLine($"{"case",-36} {"float64 max diff",18} {"float32 max diff",18}");
foreach (var c in fixture.Cases)
{
    var f64 = TrajectoryCheck.Run(fixture, c, ScalarType.Float64, device, relative: 1e-12);
    var f32 = TrajectoryCheck.Run(fixture, c, ScalarType.Float32, device, relative: 0);
    bool ok = f64.WorstExcess <= 1e-13 && f32.WorstExcess <= 2e-5;
    if (!ok) failures++;
    Console.WriteLine($"{c.Optimizer + "/" + c.Name,-36} {f64.MaxDifferenceAtLastStep,18:E2} {f32.MaxDifferenceAtLastStep,18:E2} {(ok ? "" : "FAIL")}");
}
Console.WriteLine(failures == 0 ? $"all {fixture.Cases.Count} cases within tolerance on {torch.cuda.device_count()} CUDA device(s)" : $"{failures} cases out of tolerance");
return failures == 0 ? 0 : 1;
