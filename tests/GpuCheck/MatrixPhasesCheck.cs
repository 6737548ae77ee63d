using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// Rules with Newton–Schulz fused on CUDA in phases around the batched orthogonalisation, against the portable path on
/// CUDA: awkward shapes, several matrices of one shape (one batch), a tall one, a 3-d one, 6 steps.
/// </summary>
public static class MatrixPhasesCheck
{
    static readonly long[][] Shapes =
    {
        new long[] { 64, 192 }, new long[] { 64, 192 }, new long[] { 64, 192 }, new long[] { 256, 64 }, new long[] { 256, 64 },
        new long[] { 1, 9 }, new long[] { 9, 1 }, new long[] { 33, 17 }, new long[] { 130, 300 }, new long[] { 2, 3, 5 }, new long[] { 768, 3072 },
    };

    static Parameter[] Train(Func<Parameter[], DeclaredOptimizer> create, UpdateBackend backend, out string status)
    {
        using var kept = KeptScalars.Rent();
        torch.manual_seed(7);
        var parameters = Shapes.Select(s => new Parameter(torch.randn(s).mul(kept[0.05]).cuda())).ToArray();
        using var optimizer = create(parameters);
        optimizer.Backend = backend;
        for (int step = 1; step <= 6; step++)
        {
            torch.manual_seed(200 + step);
            using (torch.no_grad())
                foreach (var p in parameters) p.grad = torch.randn(p.shape).cuda();
            optimizer.step();
        }
        status = optimizer.FusedStatus;
        return parameters;
    }

    /// <summary>
    /// The worst tensor's max |fused - portable| over max |movement| and the same in Frobenius norms, whether two fused
    /// runs gave the same bits, and the fused path's status.
    /// </summary>
    public static (double Max, double Frobenius, bool Repeatable, string Status) Compare(Func<Parameter[], DeclaredOptimizer> create)
    {
        torch.manual_seed(7);
        var start = Shapes.Select(s => torch.randn(s)).ToArray();
        var fused = Train(create, UpdateBackend.Fused, out var status);
        var again = Train(create, UpdateBackend.Fused, out _);
        var portable = Train(create, UpdateBackend.Portable, out _);
        using var kept = KeptScalars.Rent();
        double worst = 0, worstNorm = 0;
        for (int k = 0; k < Shapes.Length; k++)
        {
            var moved = portable[k].detach() - start[k].mul(kept[0.05]).cuda();
            var difference = fused[k].detach() - portable[k].detach();
            worst = Math.Max(worst, difference.abs().max().item<float>() / moved.abs().max().item<float>());
            worstNorm = Math.Max(worstNorm, difference.norm().item<float>() / moved.norm().item<float>());
        }
        bool repeatable = fused.Zip(again).All(t => t.First.detach().eq(t.Second.detach()).all().item<bool>());
        return (worst, worstNorm, repeatable, status);
    }
}
