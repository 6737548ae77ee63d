using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.HandWritten;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The diagonal Hessian estimators against closed forms: Hutchinson's u ⊙ Hu on a function whose Hessian is written
/// out here (a quadratic, a cubic per element and a cross term), exactly for the draw and on average over draws; the
/// Gauss–Newton–Bartlett estimate of a linear softmax model against its gradient written by hand; the label draws
/// against the softmax they sample.
/// </summary>
public class CurvatureTests
{
    const ulong Seed = 2024;

    static readonly double[,] A = { { 2, 0.5, -1 }, { 0.5, 3, 0.25 }, { -1, 0.25, 1.5 } };

    static (Parameter X, Parameter W, Tensor C, Tensor Amatrix) Problem()
    {
        var a = torch.tensor(A, ScalarType.Float64);
        var x = new Parameter(torch.tensor(new[] { 0.3, -0.7, 1.1 }, ScalarType.Float64));
        var w = new Parameter(torch.linspace(-1, 1, 8, ScalarType.Float64).reshape(2, 4));
        var c = torch.linspace(0.5, 2, 8, ScalarType.Float64).reshape(2, 4);
        return (x, w, c, a);
    }

    /// <summary>f = ½ xᵀAx + Σ c w³/3 + x₀ Σ w: H_xx = A, H_ww = diag(2cw), H_x₀w = 1.</summary>
    static Tensor Loss(Parameter x, Parameter w, Tensor c, Tensor a)
    {
        using var kept = KeptScalars.Rent();
        return x.dot(a.matmul(x)).mul(kept[0.5]).Plus((c * w.pow(kept[3])).sum().div(kept[3])).Plus(x[0] * w.sum());
    }

    [Fact]
    public void Hutchinson_is_u_times_the_hessian_times_u_for_its_draw()
    {
        using var kept = KeptScalars.Rent();
        var (x, w, c, a) = Problem();
        var estimates = Curvature.Hutchinson(new[] { x, w }, Loss(x, w, c, a), Seed, draw: 7);
        var ux = Curvature.Rademacher(Seed, Curvature.Stream(7, 0), x.shape, CPU).to(ScalarType.Float64);
        var uw = Curvature.Rademacher(Seed, Curvature.Stream(7, 1), w.shape, CPU).to(ScalarType.Float64);
        using var _ = torch.no_grad();
        var hx = a.matmul(ux);
        hx[0].Plus_(uw.sum());
        var hw = (c.mul(kept[2]) * w * uw).Plus(ux[0]);
        Assert.True((estimates[0] - ux * hx).abs().max().item<double>() < 1e-12);
        Assert.True((estimates[1] - uw * hw).abs().max().item<double>() < 1e-12);
        Assert.Null(x.grad);
    }

    /// <summary>
    /// Over 2000 draws the mean is diag H within 5 standard errors (the variance of u_i (Hu)_i is Σ_{j≠i} H_ij²).
    /// </summary>
    [Fact]
    public void Hutchinson_averages_to_the_hessians_diagonal()
    {
        using var kept = KeptScalars.Rent();
        var (x, w, c, a) = Problem();
        const int draws = 2000;
        var sumX = torch.zeros(3, ScalarType.Float64);
        var sumW = torch.zeros(2, 4, ScalarType.Float64);
        for (ulong d = 0; d < draws; d++)
        {
            var e = Curvature.Hutchinson(new[] { x, w }, Loss(x, w, c, a), Seed, d);
            sumX = sumX.Plus(e[0]);
            sumW = sumW.Plus(e[1]);
        }
        using var _ = torch.no_grad();
        var diagX = a.diag();
        var diagW = c.mul(kept[2]) * w;
        // Off-diagonal squares per row: x rows see A's other entries and (for x₀) eight ones; w rows see one (x₀).
        var offX = a.Squared().sum(new long[] { 1 }) - a.diag().Squared();
        offX[0].add_(kept[8], ScalarCalls.One);
        var seX = offX.div(kept[draws]).sqrt();
        Assert.True(((sumX.div(kept[draws]) - diagX).abs() - seX.mul(kept[5])).max().item<double>() < 0, "x");
        Assert.True((sumW.div(kept[draws]) - diagW).abs().sub(kept[5 * Math.Sqrt(1.0 / draws)]).max().item<double>() < 0, "w");
    }

    [Fact]
    public void Gauss_Newton_Bartlett_is_the_batch_size_times_the_squared_gradient_on_drawn_labels()
    {
        using var kept = KeptScalars.Rent();
        var features = torch.linspace(-2, 2, 18, ScalarType.Float64).reshape(6, 3).sin();
        var w = new Parameter(torch.linspace(-0.5, 0.7, 12, ScalarType.Float64).reshape(3, 4));
        var b = new Parameter(torch.tensor(new[] { 0.1, -0.2, 0.05, 0.0 }, ScalarType.Float64));
        var estimates = Curvature.GaussNewtonBartlett(new[] { w, b }, features.matmul(w).Plus(b), Seed, draw: 3);

        using var _ = torch.no_grad();
        var logits = features.matmul(w).Plus(b);
        var labels = Curvature.SampleLabels(logits, Seed, 3);
        var residual = logits.softmax(1) - nn.functional.one_hot(labels, 4).to(ScalarType.Float64);
        var gw = features.t().matmul(residual).div(kept[6]);
        var gb = residual.mean(new long[] { 0 });
        Assert.True((estimates[0] - gw.Squared().mul(kept[6])).abs().max().item<double>() < 1e-12);
        Assert.True((estimates[1] - gb.Squared().mul(kept[6])).abs().max().item<double>() < 1e-12);
    }

    /// <summary>30,000 draws from softmax([0, 1, 2, -1]): each class's frequency within 5 standard errors.</summary>
    [Fact]
    public void Labels_are_drawn_from_the_softmax()
    {
        using var kept = KeptScalars.Rent();
        var logits = torch.tensor(new[] { 0f, 1f, 2f, -1f }).expand(30_000, 4);
        var labels = Curvature.SampleLabels(logits, Seed, 11);
        var p = torch.tensor(new[] { 0f, 1f, 2f, -1f }).softmax(0);
        for (int k = 0; k < 4; k++)
        {
            double frequency = labels.eq(kept[k]).to(ScalarType.Float64).mean().item<double>();
            double expected = p[k].item<float>();
            Assert.True(Math.Abs(frequency - expected) < 5 * Math.Sqrt(expected * (1 - expected) / 30_000), $"class {k}: {frequency} vs {expected}");
        }
        Assert.True(labels.equal(Curvature.SampleLabels(logits, Seed, 11)).all().item<bool>());
        Assert.False(labels.equal(Curvature.SampleLabels(logits, Seed, 12)).all().item<bool>());
    }

    [Fact]
    public void Inputs_without_a_graph_are_refused()
    {
        using var kept = KeptScalars.Rent();
        var (x, w, c, a) = Problem();
        Tensor detached;
        using (torch.no_grad()) detached = Loss(x, w, c, a);
        Assert.Contains("do not require grad", Assert.Throws<ArgumentException>(() => Curvature.Hutchinson(new[] { x, w }, detached, Seed, 0)).Message);
        Assert.Contains("scalar", Assert.Throws<ArgumentException>(() => Curvature.Hutchinson(new[] { x }, x.mul(kept[2]), Seed, 0)).Message);
        Assert.Contains("classes", Assert.Throws<ArgumentException>(() => Curvature.GaussNewtonBartlett(new[] { x }, x.mul(kept[2]), Seed, 0)).Message);
    }
}
