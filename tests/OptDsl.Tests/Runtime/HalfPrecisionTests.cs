using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>bfloat16 and float16 parameters keep float32 state and are computed in float32, rounded once per step.</summary>
public class HalfPrecisionTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_parameters_update_as_float32_math_rounded_once_per_step(ScalarType half)
    {
        var halves = TestData.Parameters(half);
        var singles = halves.Select(p => new TorchSharp.Modules.Parameter(p.detach().to(ScalarType.Float32))).ToArray();
        var a = new AdamW(halves, lr: 0.01, weightDecay: 0.1);
        // Both on the portable path: the half parameters take it (the fused CPU update is float32 only), and the
        // reference must round its operations in the same order.
        var b = new AdamW(singles, lr: 0.01, weightDecay: 0.1) { Backend = UpdateBackend.Portable };
        for (int step = 1; step <= 10; step++)
        {
            TestData.SetGradients(halves, step);
            using (torch.no_grad())
                for (int k = 0; k < singles.Length; k++) singles[k].grad = halves[k].grad!.to(ScalarType.Float32);
            a.step();
            b.step();
            // The reference rounds its float32 result into the half type, as the optimizer does with the parameter.
            using (torch.no_grad())
                foreach (var p in singles) p.copy_(p.to(half).to(ScalarType.Float32));
        }

        Assert.Equal(ScalarType.Float32, a.StateOf(halves[0]).M.dtype);
        for (int k = 0; k < halves.Length; k++)
            Assert.True(TestData.Identical(halves[k].to(ScalarType.Float32), singles[k]), $"tensor {k}");
        for (int k = 0; k < halves.Length; k++)
            Assert.True(TestData.Identical(a.StateOf(halves[k]).V, b.StateOf(singles[k]).V), $"state of tensor {k}");
    }
}
