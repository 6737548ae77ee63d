using System;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>The fused CUDA backend's host side, where no GPU is needed (the GPU run is tests/GpuCheck).</summary>
public class FusedBackendTests
{
    [Theory]
    [InlineData(1, 5, false)]
    [InlineData(4, 12, false)]
    [InlineData(8, 60, false)]
    [InlineData(1, 5, true)]
    [InlineData(8, 60, true)]
    public void Launch_metadata_and_scalars_fit_the_kernel_parameter_space(int states, int scalars, bool large)
    {
        var layout = new MultiTensorLayout(new CudaKernel("Test", "", states, scalars), large);
        // 8 states, 60 scalars and the rounding row in 32 KB: 125 tensors a launch (PyTorch's 4 KB launches take 110 at depth 4).
        Assert.True(layout.MaxTensors >= (large ? 120 : 8), $"only {layout.MaxTensors} tensors per launch");
        Assert.True(layout.MetaBytes + 4 * layout.ScalarSlots <= (large ? 32764 : 4096));
        Assert.Equal(0, layout.MetaBytes % 8);
        Assert.Contains($"#define OPTDSL_MAX_BLOCKS {layout.MaxBlocks}", layout.SourceFor(ParamKind.Float32));
        Assert.Contains($"#define OPTDSL_STATES {states}", layout.SourceFor(ParamKind.Float32));
        Assert.Contains("#define OPTDSL_PARAM_KIND 1", layout.SourceFor(ParamKind.BFloat16));
        Assert.Contains("#define OPTDSL_PARAM_KIND 2", layout.SourceFor(ParamKind.Float16));
        Assert.Contains("#define OPTDSL_PARAM_KIND 3", layout.SourceFor(ParamKind.BFloat16Stochastic));
        Assert.Contains("#define OPTDSL_PARAM_KIND 5", layout.SourceFor(ParamKind.Float16Kahan));
        Assert.Equal(layout.Depth - 1, layout.RoundingRow);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_phased_kernel_has_a_source_per_phase_and_its_first_chunks_in_the_metadata(bool large)
    {
        var plan = new ReductionPlan(3, new ReductionSpec(1, ReductionOp.Norm), new ReductionSpec(2, ReductionOp.Max));
        var layout = new MultiTensorLayout(new CudaKernel("Test", "", 4, 9, plan), large);
        var plain = new MultiTensorLayout(new CudaKernel("Test", "", 4, 9), large);
        Assert.True(layout.MetaBytes + 4 * layout.ScalarSlots + 12 <= (large ? 32764 : 4096));
        Assert.True(layout.MaxTensors <= plain.MaxTensors);
        Assert.Equal(layout.NumelOffset + 8 * layout.MaxTensors, layout.FirstOffset);
        Assert.Equal(layout.FirstOffset + 4 * layout.MaxTensors, layout.ChunkOffset);
        for (int phase = 1; phase <= 3; phase++)
        {
            var source = layout.SourceFor(ParamKind.BFloat16, phase);
            Assert.Contains($"#define OPTDSL_PHASE {phase}", source);
            Assert.Contains("#define OPTDSL_PARAM_KIND 1", source);
            Assert.Contains("case 0: return 2; case 1: return 4;", source);
            Assert.Contains("case 0: return 1; case 1: return 2;", source);
        }
    }

    [Fact]
    public void Forcing_the_fused_path_on_tensors_it_cannot_take_is_a_clear_error_that_changes_nothing()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        var opt = new AdamW(parameters) { Backend = UpdateBackend.Fused };
        TestData.SetGradients(parameters, 1);
        var before = parameters[0].detach().clone();
        var e = Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Contains("Float64", e.Message);
        Assert.True(TestData.Identical(parameters[0], before));
        Assert.Equal(0, opt.StateOf(parameters[0]).Step);
    }

    [Fact]
    public void Auto_runs_float32_CPU_tensors_on_the_fused_CPU_update_and_float64_on_the_portable_path()
    {
        var singles = TestData.Parameters(ScalarType.Float32);
        var opt = new AdamW(singles);
        TestData.SetGradients(singles, 1);
        opt.step();
        Assert.Equal(UpdateBackend.Auto, opt.Backend);
        Assert.StartsWith("CPU:", opt.FusedStatus);

        var doubles = TestData.Parameters(ScalarType.Float64);
        var other = new AdamW(doubles);
        TestData.SetGradients(doubles, 1);
        Assert.Equal("not used yet", other.FusedStatus);
        other.step();
        Assert.Equal($"portable path for {doubles.Length} of {doubles.Length} parameters at the last step (Float64 on CPU, which the fused update does not take)", other.FusedStatus);

        var asked = new AdamW(TestData.Parameters(ScalarType.Float32)) { Backend = UpdateBackend.Portable };
        TestData.SetGradients(asked.parameters().ToArray(), 1);
        asked.step();
        Assert.EndsWith("(Backend is Portable)", asked.FusedStatus);
    }
}
