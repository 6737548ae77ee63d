using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>Schedule-free AdamW's fused CUDA kernel (z from the parameter, per-tensor double state) against float64 on the CPU.</summary>
public static class ScheduleFreeCheck
{
    const int Steps = 20;

    static (Parameter[] Parameters, ScheduleFreeAdamW Optimizer) Train(ScalarType dtype, Device device, UpdateBackend backend)
    {
        var parameters = TestData.Parameters(dtype, device);
        var optimizer = new ScheduleFreeAdamW(parameters, lr: 0.05, beta2: 0.99, weightDecay: 0.1, warmupSteps: 5) { Backend = backend };
        for (int t = 1; t <= Steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        return (parameters, optimizer);
    }

    static double MaxDifference(Parameter[] a, Parameter[] b) =>
        a.Zip(b).Max(p => (p.First.detach().cpu().to(ScalarType.Float64) - p.Second.detach().cpu().to(ScalarType.Float64)).abs().max().item<double>());

    /// <summary>Max |CUDA fused fp32 − CPU fp64| of y (the parameters) and of x (swapped in), and the kernel's status.</summary>
    public static (double Y, double X, string Status) AgainstCpu()
    {
        var (gpu, onGpu) = Train(ScalarType.Float32, CUDA, UpdateBackend.Fused);
        var (cpu, onCpu) = Train(ScalarType.Float64, CPU, UpdateBackend.Portable);
        using (onGpu)
        using (onCpu)
        {
            double y = MaxDifference(gpu, cpu);
            using (onGpu.SwapInAverage())
            using (onCpu.SwapInAverage())
                return (y, MaxDifference(gpu, cpu), onGpu.FusedStatus);
        }
    }
}
