using System.Linq;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>Parameter groups with their own hyperparameters behave like separate optimizers.</summary>
public class ParamGroupTests
{
    [Fact]
    public void Each_group_uses_its_own_options_and_the_defaults_for_the_rest()
    {
        var grouped = TestData.Parameters(ScalarType.Float64);
        var opt = new AdamW(new[]
        {
            new AdamW.ParamGroup(grouped.Take(2), lr: 0.05, weightDecay: 0),
            new AdamW.ParamGroup(grouped.Skip(2)),
        }, lr: 0.01, beta2: 0.99);

        var first = TestData.Parameters(ScalarType.Float64);
        var second = TestData.Parameters(ScalarType.Float64);
        var alone1 = new AdamW(first.Take(2), lr: 0.05, beta2: 0.99, weightDecay: 0);
        var alone2 = new AdamW(second.Skip(2), lr: 0.01, beta2: 0.99);

        for (int step = 1; step <= 10; step++)
        {
            TestData.SetGradients(grouped, step);
            TestData.SetGradients(first, step);
            TestData.SetGradients(second, step);
            opt.step();
            alone1.step();
            alone2.step();
        }

        Assert.Equal(0.99, opt.OptionsOf(0)["beta2"]);
        for (int k = 0; k < 2; k++) Assert.True(TestData.Identical(grouped[k], first[k]));
        for (int k = 2; k < 4; k++) Assert.True(TestData.Identical(grouped[k], second[k]));
    }

    [Fact]
    public void Conditional_state_exists_only_where_its_flag_is_on()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new AdamW(new[]
        {
            new AdamW.ParamGroup(parameters.Take(2), amsgrad: true),
            new AdamW.ParamGroup(parameters.Skip(2)),
        });
        TestData.SetGradients(parameters, 1);
        opt.step();

        Assert.NotNull(opt.StateOf(parameters[0]).VMax);
        Assert.Null(opt.StateOf(parameters[3]).VMax);

        opt.OptionsOf(1)["amsgrad"] = 1;
        TestData.SetGradients(parameters, 2);
        opt.step();
        Assert.NotNull(opt.StateOf(parameters[3]).VMax);
    }
}
