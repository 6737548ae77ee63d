using System;
using System.Linq;
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
    static Tensor Loss(Parameter x, Parameter w, Tensor c, Tensor a) =>
        0.5 * x.dot(a.matmul(x)) + (c * w.pow(3)).sum() / 3 + x[0] * w.sum();

    [Fact]
    public void Hutchinson_is_u_times_the_hessian_times_u_for_its_draw()
    {
        var (x, w, c, a) = Problem();
        var estimates = Curvature.Hutchinson(new[] { x, w }, Loss(x, w, c, a), Seed, draw: 7);
        var ux = Curvature.Rademacher(Seed, Curvature.Stream(7, 0), x.shape, CPU).to(ScalarType.Float64);
        var uw = Curvature.Rademacher(Seed, Curvature.Stream(7, 1), w.shape, CPU).to(ScalarType.Float64);
        using var _ = torch.no_grad();
        var hx = a.matmul(ux);
        hx[0] += uw.sum();
        var hw = 2 * c * w * uw + ux[0];
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
        var (x, w, c, a) = Problem();
        const int draws = 2000;
        var sumX = torch.zeros(3, ScalarType.Float64);
        var sumW = torch.zeros(2, 4, ScalarType.Float64);
        for (ulong d = 0; d < draws; d++)
        {
            var e = Curvature.Hutchinson(new[] { x, w }, Loss(x, w, c, a), Seed, d);
            sumX += e[0];
            sumW += e[1];
        }
        using var _ = torch.no_grad();
        var diagX = a.diag();
        var diagW = 2 * c * w;
        // Off-diagonal squares per row: x rows see A's other entries and (for x₀) eight ones; w rows see one (x₀).
        var offX = a.square().sum(new long[] { 1 }) - a.diag().square();
        offX[0] += 8;
        var seX = (offX / draws).sqrt();
        Assert.True(((sumX / draws - diagX).abs() - 5 * seX).max().item<double>() < 0, "x");
        Assert.True(((sumW / draws - diagW).abs() - 5 * Math.Sqrt(1.0 / draws)).max().item<double>() < 0, "w");
    }

    [Fact]
    public void Gauss_Newton_Bartlett_is_the_batch_size_times_the_squared_gradient_on_drawn_labels()
    {
        var features = torch.linspace(-2, 2, 18, ScalarType.Float64).reshape(6, 3).sin();
        var w = new Parameter(torch.linspace(-0.5, 0.7, 12, ScalarType.Float64).reshape(3, 4));
        var b = new Parameter(torch.tensor(new[] { 0.1, -0.2, 0.05, 0.0 }, ScalarType.Float64));
        var estimates = Curvature.GaussNewtonBartlett(new[] { w, b }, features.matmul(w) + b, Seed, draw: 3);

        using var _ = torch.no_grad();
        var logits = features.matmul(w) + b;
        var labels = Curvature.SampleLabels(logits, Seed, 3);
        var residual = logits.softmax(1) - nn.functional.one_hot(labels, 4).to(ScalarType.Float64);
        var gw = features.t().matmul(residual) / 6;
        var gb = residual.mean(new long[] { 0 });
        Assert.True((estimates[0] - 6 * gw.square()).abs().max().item<double>() < 1e-12);
        Assert.True((estimates[1] - 6 * gb.square()).abs().max().item<double>() < 1e-12);
    }

    /// <summary>30,000 draws from softmax([0, 1, 2, -1]): each class's frequency within 5 standard errors.</summary>
    [Fact]
    public void Labels_are_drawn_from_the_softmax()
    {
        var logits = torch.tensor(new[] { 0f, 1f, 2f, -1f }).expand(30_000, 4);
        var labels = Curvature.SampleLabels(logits, Seed, 11);
        var p = torch.tensor(new[] { 0f, 1f, 2f, -1f }).softmax(0);
        for (int k = 0; k < 4; k++)
        {
            double frequency = labels.eq(k).to(ScalarType.Float64).mean().item<double>();
            double expected = p[k].item<float>();
            Assert.True(Math.Abs(frequency - expected) < 5 * Math.Sqrt(expected * (1 - expected) / 30_000), $"class {k}: {frequency} vs {expected}");
        }
        Assert.True(labels.equal(Curvature.SampleLabels(logits, Seed, 11)).all().item<bool>());
        Assert.False(labels.equal(Curvature.SampleLabels(logits, Seed, 12)).all().item<bool>());
    }

    [Fact]
    public void Inputs_without_a_graph_are_refused()
    {
        var (x, w, c, a) = Problem();
        Tensor detached;
        using (torch.no_grad()) detached = Loss(x, w, c, a);
        Assert.Contains("do not require grad", Assert.Throws<ArgumentException>(() => Curvature.Hutchinson(new[] { x, w }, detached, Seed, 0)).Message);
        Assert.Contains("scalar", Assert.Throws<ArgumentException>(() => Curvature.Hutchinson(new[] { x }, x * 2, Seed, 0)).Message);
        Assert.Contains("classes", Assert.Throws<ArgumentException>(() => Curvature.GaussNewtonBartlett(new[] { x }, x * 2, Seed, 0)).Message);
    }
}
