using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// 8-bit AdamW state read and written by the fused CUDA kernel against the portable path's dequantize-step-quantize on
/// the same device: tensors of 1, 300 (a partial block), 65,536 + 1,000 (two chunks) and 1,000,003 elements, 20 steps.
/// </summary>
public static class QuantizedCheck
{
    static readonly long[][] Shapes = { new long[] { 1 }, new long[] { 300 }, new long[] { 66_536 }, new long[] { 1_000_003 } };

    static Parameter[] Start(Device device)
    {
        using var kept = KeptScalars.Rent();
        var generator = new torch.Generator(17);
        return Shapes.Select(s => new Parameter(torch.randn(s, generator: generator).mul(kept[0.02f]).to(device))).ToArray();
    }

    static Tensor Gradient(int t, long[] shape, Device device)
    {
        using var kept = KeptScalars.Rent();
        var generator = new torch.Generator((ulong)(1000 + t));
        // Magnitudes spread over decades within blocks, as real gradients have them.
        return (torch.randn(shape, generator: generator) * torch.pow(10f, torch.rand(shape, generator: generator).mul(kept[-4]))).to(device);
    }

    /// <summary>(max |fused − portable| over the weights relative to their movement, share of m and v codes that differ, kernel status).</summary>
    public static (double Relative, double CodesDiffer, string Status) Run(Device device)
    {
        Parameter[] RunWith(UpdateBackend backend, out OptDsl.Optimizers.AdamW optimizer)
        {
            var ps = Start(device);
            optimizer = new OptDsl.Optimizers.AdamW(ps, lr: 1e-3, weightDecay: 0.01) { Backend = backend };
            optimizer.QuantizeState("m");
            optimizer.QuantizeState("v");
            for (int t = 1; t <= 20; t++)
            {
                using (no_grad()) for (int k = 0; k < ps.Length; k++) ps[k].grad = Gradient(t, Shapes[k], device);
                optimizer.step();
            }
            return ps;
        }
        var fused = RunWith(UpdateBackend.Fused, out var a);
        var portable = RunWith(UpdateBackend.Portable, out var b);
        var start = Start(device);
        double relative = fused.Zip(portable, start).Max(x =>
            (x.First - x.Second).abs().max().item<float>() / (double)(x.Second - x.Third).abs().max().item<float>());
        long differ = 0, total = 0;
        for (int k = 0; k < fused.Length; k++)
            foreach (int slot in new[] { 0, 1 })
            {
                var qa = a.StateOf(fused[k]).QuantizedSlot(slot)!;
                var qb = b.StateOf(portable[k]).QuantizedSlot(slot)!;
                differ += qa.Codes.ne(qb.Codes).sum().item<long>();
                total += qa.Codes.NumberOfElements;
            }
        var status = a.FusedStatus;
        a.Dispose();
        b.Dispose();
        return (relative, (double)differ / total, status);
    }
}
