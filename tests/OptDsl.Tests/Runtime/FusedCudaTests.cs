using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The fused kernel where a CUDA device exists (a TorchSharp CUDA package, or OPTDSL_LIBTORCH). The full GPU check,
/// every catalog optimizer and a many-tensor stress, is the program tests/GpuCheck.
/// </summary>
public class FusedCudaTests
{
    [CudaFact]
    public void Fused_AdamW_agrees_with_the_portable_path_after_30_steps()
    {
        var fused = TestData.Parameters(ScalarType.Float32, CUDA);
        var portable = TestData.Parameters(ScalarType.Float32, CUDA);
        var a = new AdamW(fused, lr: 0.01, amsgrad: true) { Backend = UpdateBackend.Fused };
        var b = new AdamW(portable, lr: 0.01, amsgrad: true) { Backend = UpdateBackend.Portable };
        for (int step = 1; step <= 30; step++)
        {
            TestData.SetGradients(fused, step);
            TestData.SetGradients(portable, step);
            a.step();
            b.step();
        }
        for (int k = 0; k < fused.Length; k++)
            Xunit.Assert.True(fused[k].allclose(portable[k], rtol: 1e-5, atol: 1e-6), $"tensor {k}");
    }
}
