using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>Optimizers with Newton–Schulz work (Muon, NorMuon, AdaMuon, Scion, SWAN) on CUDA, in bfloat16 on tensor cores, against float64 on the CPU.</summary>
public static class NewtonSchulzCheck
{
    // Two 64x192 matrices, so that the batched chain is checked too.
    static readonly long[][] Shapes = { new long[] { 64, 192 }, new long[] { 256, 64 }, new long[] { 32, 3, 3, 3 }, new long[] { 64, 192 } };

    static Parameter[] Train(Func<Parameter[], DeclaredOptimizer> create, ScalarType dtype, Device device, out Parameter[] initial)
    {
        using var kept = KeptScalars.Rent();
        torch.manual_seed(5);
        var start = Shapes.Select(s => torch.randn(s, ScalarType.Float64).mul(kept[0.05])).ToArray();
        initial = start.Select(t => new Parameter(t.clone())).ToArray();
        var parameters = start.Select(t => new Parameter(t.to(dtype).to(device))).ToArray();
        using var optimizer = create(parameters);
        for (int step = 1; step <= 6; step++)
        {
            torch.manual_seed(100 + step);
            using (torch.no_grad())
                foreach (var p in parameters) p.grad = torch.randn(p.shape, ScalarType.Float64).to(dtype).to(device);
            optimizer.step();
        }
        return parameters;
    }

    /// <summary>
    /// The bf16 orthogonalisation's error in the weights after 6 steps, worst tensor: max |CUDA - CPU fp64| over max
    /// |movement|, and ‖CUDA - CPU fp64‖ over ‖movement‖ (Frobenius).
    /// </summary>
    public static (double Max, double Frobenius) RelativeToMovement(Func<Parameter[], DeclaredOptimizer> create)
    {
        var gpu = Train(create, ScalarType.Float32, CUDA, out _);
        var cpu = Train(create, ScalarType.Float64, CPU, out var initial);
        var differences = gpu.Zip(cpu, initial).Select(t => (Error: t.First.detach().cpu().to(ScalarType.Float64) - t.Second, Movement: t.Second - t.Third)).ToList();
        return (differences.Max(d => d.Error.abs().max().item<double>() / d.Movement.abs().max().item<double>()),
            differences.Max(d => d.Error.norm().item<double>() / d.Movement.norm().item<double>()));
    }
}
