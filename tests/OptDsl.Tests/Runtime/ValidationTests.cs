using System;
using System.Linq;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Adam = OptDsl.Optimizers.Adam;
using AdamW = OptDsl.Optimizers.AdamW;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>Bad hyperparameters, gradients and state are refused with a clear message, before anything changes.</summary>
public class ValidationTests
{
    [Fact]
    public void Negative_learning_rate_is_refused_naming_the_hyperparameter_and_its_range()
    {
        var e = Assert.Throws<ArgumentException>(() => new Adam(TestData.Parameters(ScalarType.Float32), lr: -1e-3));
        Assert.Contains("'lr'", e.Message);
        Assert.Contains("[0, inf)", e.Message);
        Assert.Contains("-0.001", e.Message);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Beta_outside_zero_to_one_or_NaN_is_refused(double beta1)
    {
        var e = Assert.Throws<ArgumentException>(() => new Adam(TestData.Parameters(ScalarType.Float32), beta1: beta1));
        Assert.Contains("'beta1'", e.Message);
        Assert.Contains(double.IsNaN(beta1) ? "NaN" : "[0, 1)", e.Message);
    }

    [Fact]
    public void Zero_eps_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new AdamW(TestData.Parameters(ScalarType.Float32), eps: 0));
        Assert.Contains("'eps'", e.Message);
        Assert.Contains("(0, inf)", e.Message);
    }

    [Fact]
    public void An_invalid_value_set_later_fails_the_step_and_changes_nothing()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new Adam(parameters, lr: 0.01);
        TestData.SetGradients(parameters, 1);
        opt.step();
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        var stateBefore = opt.StateOf(parameters[0]).M.clone();

        opt.OptionsOf(0).Set(opt.Spec.HyperIndex("beta2"), 1.5);
        TestData.SetGradients(parameters, 2);
        var e = Assert.Throws<ArgumentException>(() => opt.step());

        Assert.Contains("'beta2' of parameter group 0", e.Message);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]));
        Assert.True(TestData.Identical(opt.StateOf(parameters[0]).M, stateBefore));
        Assert.Equal(1, opt.StateOf(parameters[0]).Step);
    }

    [Fact]
    public void A_gradient_of_the_wrong_shape_fails_the_step_before_any_parameter_changes()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new SGD(parameters, lr: 0.1);
        TestData.SetGradients(parameters, 1);
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        using (torch.no_grad()) parameters[3].grad = torch.ones(3, 3);

        var e = Assert.Throws<InvalidOperationException>(() => opt.step());

        Assert.Contains("shape [3, 3]", e.Message);
        Assert.Contains("[4, 3, 5]", e.Message);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]), $"parameter {k} changed");
    }

    [Fact]
    public void A_gradient_replaced_after_earlier_steps_is_checked_again()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new Adam(parameters, lr: 0.01);
        for (int step = 1; step <= 3; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        using (torch.no_grad()) parameters[0].grad = torch.ones(13, 7);

        var e = Assert.Throws<InvalidOperationException>(() => opt.step());

        Assert.Contains("shape [13, 7]", e.Message);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]), $"parameter {k} changed");
        Assert.Equal(3, opt.StateOf(parameters[1]).Step);
    }

    [Fact]
    public void A_gradient_of_another_dtype_is_refused()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new SGD(parameters, lr: 0.1);
        TestData.SetGradients(parameters, 1);
        using (torch.no_grad()) parameters[2].grad = torch.ones(1, dtype: ScalarType.Float64);
        var e = Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Contains("Float64", e.Message);
    }

    [Fact]
    public void A_parameter_without_a_gradient_is_skipped_as_in_PyTorch()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new Adam(parameters, lr: 0.01);
        TestData.SetGradients(parameters, 1);
        parameters[1].grad = null;
        var untouched = parameters[1].detach().clone();

        opt.step();

        Assert.True(TestData.Identical(parameters[1], untouched));
        Assert.Equal(0, opt.StateOf(parameters[1]).Step);
        Assert.Equal(1, opt.StateOf(parameters[0]).Step);
    }

    [Fact]
    public void A_parameter_in_two_groups_is_refused()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => new Adam(new[]
        {
            new Adam.ParamGroup(parameters.Take(2)),
            new Adam.ParamGroup(parameters.Skip(1)),
        }));
        Assert.Contains("more than once", e.Message);
    }

    [Fact]
    public void Integer_parameters_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new SGD(new[] { new TorchSharp.Modules.Parameter(torch.ones(3, dtype: ScalarType.Int64), requires_grad: false) }));
        Assert.Contains("Int64", e.Message);
    }
}
