using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>DoG and L-DoG against the paper's step size written out in float64 over whole parameter lists.</summary>
public class DoGTests
{
    const int Steps = 10;

    static Tensor[] Reference(bool layerwise, double lr, double repsRel, double wd)
    {
        using var kept = KeptScalars.Rent();
        var x = TestData.Parameters(ScalarType.Float64).Select(p => p.detach().clone()).ToArray();
        var x0 = x.Select(t => t.clone()).ToArray();
        int n = x.Length;
        double Norm(Tensor[] ts, int k) => Math.Sqrt(layerwise ? ts[k].Squared().sum().item<double>() : ts.Sum(t => t.Squared().sum().item<double>()));
        var rbar = Enumerable.Range(0, n).Select(k => repsRel * (1 + Norm(x0, k))).ToArray();
        var gsum = new double[n];
        for (int t = 1; t <= Steps; t++)
        {
            var d = x.Select((p, k) => TestData.Gradient(t, k, ScalarType.Float64).Plus(p.mul(kept[wd]))).ToArray();
            var moved = x.Select((p, k) => p - x0[k]).ToArray();
            var eta = new double[n];
            for (int k = 0; k < n; k++)
            {
                rbar[k] = Math.Max(rbar[k], Norm(moved, k));
                gsum[k] += Math.Pow(Norm(d, k), 2);
                eta[k] = lr * rbar[k] / Math.Sqrt(gsum[k] + 1e-8);
            }
            x = x.Select((p, k) => p - d[k].mul(kept[eta[k]])).ToArray();
        }
        return x;
    }

    [Theory]
    [InlineData(false, 1.0, 1e-6, 0.0)]
    [InlineData(false, 0.5, 1e-4, 0.01)]
    [InlineData(true, 1.0, 1e-6, 0.0)]
    [InlineData(true, 1.0, 1e-3, 0.1)]
    public void Follows_the_papers_step_size(bool layerwise, double lr, double repsRel, double weightDecay)
    {
        var expected = Reference(layerwise, lr, repsRel, weightDecay);
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 2e-5) })
        {
            var parameters = TestData.Parameters(dtype);
            using var dog = new DoG(parameters, lr: lr, repsRel: repsRel, weightDecay: weightDecay, layerwise: layerwise);
            for (int t = 1; t <= Steps; t++)
            {
                TestData.SetGradients(parameters, t);
                dog.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                double error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                double scale = Math.Max(1, expected[k].abs().max().item<double>());
                Assert.True(error <= tolerance * scale, $"{dtype} tensor {k}: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void A_zero_gradient_does_not_divide_by_zero()
    {
        var p = new TorchSharp.Modules.Parameter(torch.ones(4, ScalarType.Float64));
        using var dog = new DoG(new[] { p });
        p.grad = torch.zeros(4, ScalarType.Float64);
        dog.step();
        Assert.True(TestData.Identical(p, torch.ones(4, ScalarType.Float64)));
    }

    [Fact]
    public void The_initial_weights_are_state_saved_and_restored()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        var initial = TestData.Copies(parameters);
        using var dog = new DoG(parameters);
        TestData.SetGradients(parameters, 1);
        dog.step();
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(dog.StateOf(parameters[k]).X0, initial[k]));
    }
}
