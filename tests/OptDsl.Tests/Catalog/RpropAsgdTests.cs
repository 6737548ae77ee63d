using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using ASGD = OptDsl.Optimizers.ASGD;
using Rprop = OptDsl.Optimizers.Rprop;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// What TorchSharp's built-ins (TorchSharpBuiltinTests) do not show: ASGD's average, which the update never reads, and
/// Rprop's step sizes through sign flips and at their bounds, against the torch.optim definitions written out here.
/// </summary>
public class RpropAsgdTests
{
    [Fact]
    public void ASGD_averages_the_iterates_after_t0_as_torch_optim_does()
    {
        using var kept = KeptScalars.Rent();
        const double lr = 0.05, lambd = 0.01, alpha = 0.5, t0 = 10, wd = 0.01;
        var start = TestData.Parameters(ScalarType.Float64);
        var parameters = start.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var asgd = new ASGD(parameters, lr: lr, lambd: lambd, alpha: alpha, t0: t0, weightDecay: wd);
        var p = start.Select(x => x.detach().clone()).ToArray();
        var ax = p.Select(x => torch.zeros_like(x)).ToArray();
        double eta = lr, mu = 1;
        for (int step = 1; step <= 30; step++)
        {
            TestData.SetGradients(parameters, step);
            asgd.step();
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(step, k, ScalarType.Float64).Plus(p[k].mul(kept[wd]));
                p[k] = p[k].mul(kept[1 - lambd * eta]) - g.mul(kept[eta]);
                ax[k] = mu != 1 ? ax[k].Plus((p[k] - ax[k]).mul(kept[mu])) : p[k].clone();
            }
            // torch.optim.ASGD sets eta and mu for the next step after this one.
            eta = lr / Math.Pow(1 + lambd * lr * step, alpha);
            mu = 1 / Math.Max(1, step - t0);
        }
        for (int k = 0; k < p.Length; k++)
        {
            Assert.True((parameters[k] - p[k]).abs().max().item<double>() < 1e-12, $"parameter {k}");
            Assert.True((asgd.StateOf(parameters[k]).Ax - ax[k]).abs().max().item<double>() < 1e-12, $"average {k}");
        }
        // After t0 the average lags the iterates: it is not a copy any more.
        Assert.False(TestData.Identical(asgd.StateOf(parameters[0]).Ax, parameters[0].detach()));
    }

    [Fact]
    public void Rprop_grows_shrinks_and_bounds_each_step_size_and_skips_a_flipped_element()
    {
        var p = new Parameter(torch.zeros(new long[] { 2 }, ScalarType.Float64));
        using var rprop = new Rprop(new[] { p }, lr: 0.1, etaMinus: 0.5, etaPlus: 2, stepSizeMin: 0.04, stepSizeMax: 0.3);
        // Element 0: + + + - - ; element 1: + - + 0 +.
        var grads = new[] { (1.0, 1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 0.0), (-1.0, 1.0) };
        // Step sizes after each step, and the moves, as torch.optim.Rprop's update defines them:
        //   element 0: 0.1 (first: previous 0) -> 0.2 -> 0.3 (bounded) -> flip: 0.15, no move -> previous 0: 0.15, moves
        //   element 1: 0.1 -> flip: 0.05, no move -> previous 0: 0.05 -> 0 gradient: 0.05, no move -> 0.05
        var expectedSteps = new[] { (0.1, 0.1), (0.2, 0.05), (0.3, 0.05), (0.15, 0.05), (0.15, 0.05) };
        double x0 = 0, x1 = 0;
        var moves = new[] { (-0.1, -0.1), (-0.2, 0.0), (-0.3, -0.05), (0.0, 0.0), (0.15, -0.05) };
        for (int i = 0; i < grads.Length; i++)
        {
            p.grad = torch.tensor(new[] { grads[i].Item1, grads[i].Item2 });
            rprop.step();
            var stepSize = rprop.StateOf(p).StepSize.data<double>().ToArray();
            Assert.Equal(expectedSteps[i].Item1, stepSize[0], 12);
            Assert.Equal(expectedSteps[i].Item2, stepSize[1], 12);
            (x0, x1) = (x0 + moves[i].Item1, x1 + moves[i].Item2);
            var values = p.data<double>().ToArray();
            Assert.Equal(x0, values[0], 12);
            Assert.Equal(x1, values[1], 12);
        }
        // The lower bound: five flips in a row stop at stepSizeMin.
        for (int i = 0; i < 6; i++)
        {
            p.grad = torch.tensor(new[] { i % 2 == 0 ? 1.0 : -1.0, 1.0 });
            rprop.step();
        }
        Assert.True(rprop.StateOf(p).StepSize.data<double>()[0] >= 0.04 - 1e-15);
    }
}
