using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Global-norm clipping's factor handed to the update instead of written into the gradients: only by the last
/// gradient stage, only where every part of the inner optimizer can take it, and with the same result.
/// </summary>
public class ClipFoldingTests
{
    [Fact]
    public void On_the_CPU_the_result_is_that_of_clipping_in_place()
    {
        var (identical, _) = ClipFolding.FoldedAgainstInPlace(CPU);
        Assert.True(identical);
    }

    [CudaFact]
    public void On_CUDA_the_kernel_scales_the_gradients_as_it_reads_them_bit_for_bit()
    {
        var (identical, kept) = ClipFolding.FoldedAgainstInPlace(CUDA);
        Assert.True(identical);
        Assert.True(kept, "the gradients were written");
    }

    [CudaTheory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    [InlineData(double.PositiveInfinity)]
    public void On_CUDA_the_norm_of_all_gradients_comes_from_one_multi_tensor_pass(double p)
    {
        // 300 tensors (more than one launch takes), one of 5M elements (77 chunks); float32 partials over 5M squares
        // are good to about 1e-6 relative.
        Assert.True(ClipFolding.NormRelativeError(CUDA, ScalarType.Float32, p, 300, 5_000_000) < 1e-5);
        Assert.True(ClipFolding.NormRelativeError(CUDA, ScalarType.BFloat16, p, 300, 5_000_000) < 1e-5);
    }

    [Fact]
    public void On_the_CPU_the_norm_is_exact_in_float64()
    {
        Assert.True(ClipFolding.NormRelativeError(CPU, ScalarType.Float64, 2.0, 40, 100_000) < 1e-14);
    }

    [Fact]
    public void A_later_gradient_stage_sees_clipped_gradients()
    {
        // Clip the norm, then each value: the value clip must see the norm-clipped gradients, so the norm clip may not
        // hand its factor to the update. Reference: both done in place by hand, then SGD.
        var ours = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(ours);
        using var opt = new SGD(ours, lr: 0.1).Compose(new ClipGradNorm(1.0), new ClipGradValue(0.05));
        for (int step = 1; step <= 3; step++)
        {
            ClipFolding.SetGradients(ours, step);
            ClipFolding.SetGradients(reference, step);
            torch.nn.utils.clip_grad_norm_(reference, 1.0);
            torch.nn.utils.clip_grad_value_(reference, 0.05);
            SgdByHand(reference, 0.1);
            opt.step();
        }
        AssertClose(reference, ours);
    }

    [Fact]
    public void A_routed_optimizer_with_a_TorchSharp_part_gets_gradients_clipped_in_place()
    {
        var model = TestData.Parameters(ScalarType.Float64).Select((p, k) => ($"p{k}", p)).ToArray();
        var reference = TestData.Copies(model.Select(np => np.p).ToArray());
#pragma warning disable RS0030 // a TorchSharp optimizer on purpose (what is tested is composing with one); its step() still passes temporary Scalars
        using var opt = model.Route("builtin", (name, _) => name == "p0", ps => torch.optim.SGD(ps.Select(p => p.parameter), 0.1))
#pragma warning restore RS0030
            .Otherwise("ours", ps => new SGD(ps, lr: 0.1))
            .Compose(new ClipGradNorm(1.0));
        var ours = model.Select(np => np.p).ToArray();
        ClipFolding.SetGradients(ours, 1);
        ClipFolding.SetGradients(reference, 1);
        torch.nn.utils.clip_grad_norm_(reference, 1.0);
        SgdByHand(reference, 0.1);
        opt.step();
        AssertClose(reference, ours);
    }

    static void SgdByHand(Parameter[] parameters, double lr)
    {
        using var kept = KeptScalars.Rent();
        using var _ = torch.no_grad();
        foreach (var p in parameters) p.sub_(p.grad!.mul(kept[lr]));
    }

    static void AssertClose(Parameter[] expected, Parameter[] actual)
    {
        for (int k = 0; k < actual.Length; k++)
            Assert.True(actual[k].allclose(expected[k], rtol: 1e-13, atol: 1e-15), $"parameter {k}");
    }
}
