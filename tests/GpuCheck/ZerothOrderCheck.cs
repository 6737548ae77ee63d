using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Training.ZerothOrder;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>Zeroth-order steps on CUDA: the exact round trip, agreement with the CPU, replay on the device.</summary>
public static class ZerothOrderCheck
{
    static readonly long[][] Shapes = { new long[] { 1000, 1000 }, new long[] { 4097 }, new long[] { 3, 5 } };

    static Parameter[] Start(Device device)
    {
        var generator = new torch.Generator(31);
        return Shapes.Select(s =>
        {
            using var kept = KeptScalars.Rent();
            var t = torch.randn(s, ScalarType.Float32, generator: generator).mul(kept[0.02f]);
            t.view(-1)[..4] = torch.tensor(new[] { 0f, -0f, 1e-40f, 3e15f });
            return new Parameter(t.to(device));
        }).ToArray();
    }

    static Tensor Loss(Parameter[] ps)
    {
        using var kept = KeptScalars.Rent();
        return ps.Select(p => p.Squared().sum().Plus(p.sum().mul(kept[0.1f]))).Aggregate((a, b) => a.Plus(b));
    }

    static uint[] Bits(Tensor t) => t.cpu().data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    /// <summary>(round trip bit-identical, worst CUDA-vs-CPU difference over the weights' movement, replay bit-identical, kept elements).</summary>
    public static (bool RoundTrip, double Relative, bool Replay, long Kept) Run(Device device)
    {
        var cuda = Start(device);
        var before = cuda.Select(Bits).ToArray();
        using (var still = new ZerothOrderOptimizer(cuda, lr: 0, seed: 4)) still.Step(() => Loss(cuda));
        bool roundTrip = cuda.Select(Bits).Zip(before).All(x => x.First.SequenceEqual(x.Second));

        var cpu = Start(CPU);
        var initial = Start(device);
        using var onCuda = new ZerothOrderOptimizer(cuda, lr: 1e-4, perturbations: 2, seed: 9, sparsity: 0.3);
        using var onCpu = new ZerothOrderOptimizer(cpu, lr: 1e-4, perturbations: 2, seed: 9, sparsity: 0.3);
        for (int t = 0; t < 10; t++)
        {
            onCuda.Step(() => Loss(cuda));
            onCpu.Step(() => Loss(cpu));
        }
        var start = Start(CPU);
        double relative = cuda.Zip(cpu, start).Max(x =>
        {
            var moved = (x.Second - x.Third).abs().max().item<float>();
            return moved == 0 ? 0 : (x.First.cpu() - x.Second).abs().max().item<float>() / moved;
        });
        using var replayed = ZerothOrderOptimizer.Replay(initial, onCuda.Record);
        bool replay = initial.Select(Bits).Zip(cuda.Select(Bits)).All(x => x.First.SequenceEqual(x.Second));
        return (roundTrip, relative, replay, onCuda.LastKeptElements);
    }
}
