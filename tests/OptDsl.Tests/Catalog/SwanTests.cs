using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// SWAN against the paper's equations written out here in float64: GradNorm (each row standardised across its
/// columns), GradWhitening as <c>(G Gᵀ)^(-1/2) G</c> computed from an SVD, the norm rescaling, the SGD step. The
/// truncated Newton–Schulz iteration is checked separately against its own float64 loop.
/// </summary>
public class SwanTests
{
    static readonly long[][] Shapes = { new long[] { 6, 10 }, new long[] { 12, 5 }, new long[] { 4, 3, 5 } };

    static Parameter[] Parameters() => Shapes.Select((s, k) => new Parameter(TestData.Normal(s, 40 + (ulong)k))).ToArray();

    static Tensor Gradient(int step, int k) => TestData.Normal(Shapes[k], 300 * (ulong)step + (ulong)k);

    static Tensor GradNorm(Tensor g, double eps)
    {
        using var kept = KeptScalars.Rent();
        var centered = g - g.mean(new long[] { 1 }, keepdim: true);
        var deviation = centered.Squared().mean(new long[] { 1 }, keepdim: true).sqrt();
        return centered / deviation.add(kept[eps], ScalarCalls.One);
    }

    /// <summary>
    /// (G Gᵀ)^(-1/2) G with the pseudo-inverse root: U Vᵀ over the nonzero singular values. Centred rows sum to zero,
    /// so a tall G (more rows than columns) has a zero singular value, which the whitening leaves at zero.
    /// </summary>
    static Tensor Whiten(Tensor g)
    {
        using var kept = KeptScalars.Rent();
        var (u, s, vh) = torch.linalg.svd(g, fullMatrices: false);
        var mask = (s > s.max().mul(kept[1e-10])).to(ScalarType.Float64);
        return (u * mask).mm(vh);
    }

    /// <summary>The cubic Newton–Schulz loop as the runtime is meant to run it: unit Frobenius norm, then the iteration.</summary>
    static Tensor CubicNewtonSchulz(Tensor g, int steps)
    {
        using var kept = KeptScalars.Rent();
        bool tall = g.shape[0] > g.shape[1];
        var x = tall ? g.t() : g;
        x = x / x.Squared().sum().sqrt().add(kept[1e-7], ScalarCalls.One);
        for (int i = 0; i < steps; i++) x = x.mul(kept[1.5]) - x.mm(x.t()).mm(x).mul(kept[0.5]);
        return tall ? x.t() : x;
    }

    static Tensor[] Reference(int steps, double lr, bool rescale, double wd, Func<Tensor, Tensor> whiten)
    {
        using var kept = KeptScalars.Rent();
        var p = Parameters().Select(x => x.detach().clone()).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                long rows = p[k].shape[0], columns = p[k].NumberOfElements / rows;
                var normalized = GradNorm(Gradient(t, k).reshape(rows, columns), 1e-8);
                var whitened = whiten(normalized);
                var scale = rescale ? normalized.norm().item<double>() / whitened.norm().item<double>() : 1.0;
                p[k] = p[k].mul(kept[(1 - lr * wd)]) - whitened.reshape(p[k].shape).mul(kept[lr * scale]);
            }
        return p;
    }

    static Parameter[] Run(int steps, Func<Parameter[], Swan> create)
    {
        var parameters = Parameters();
        using var swan = create(parameters);
        for (int t = 1; t <= steps; t++)
        {
            for (int k = 0; k < parameters.Length; k++) parameters[k].grad = Gradient(t, k);
            swan.step();
        }
        return parameters;
    }

    [Theory]
    [InlineData(true, 0.0)]
    [InlineData(false, 0.1)]
    public void Converged_it_follows_the_papers_equations(bool rescale, double weightDecay)
    {
        // 30 cubic iterations take these matrices' singular values to 1 within float64 rounding; more would let the
        // tall matrix's rounding-level zero singular value grow (1.5x per iteration) out of the noise.
        var expected = Reference(3, 0.05, rescale, weightDecay, Whiten);
        var actual = Run(3, ps => new Swan(ps, lr: 0.05, nsSteps: 30, rescale: rescale, weightDecay: weightDecay));
        for (int k = 0; k < actual.Length; k++)
            Assert.True(actual[k].allclose(expected[k], rtol: 1e-9, atol: 1e-9), $"tensor {k}: off by {(actual[k] - expected[k]).abs().max().item<double>():E2}");
    }

    [Fact]
    public void With_its_default_iterations_it_is_the_truncated_cubic_iteration()
    {
        var expected = Reference(2, 0.05, true, 0, g => CubicNewtonSchulz(g, 10));
        var actual = Run(2, ps => new Swan(ps, lr: 0.05));
        for (int k = 0; k < actual.Length; k++)
            Assert.True(actual[k].allclose(expected[k], rtol: 1e-12, atol: 1e-12), $"tensor {k}: off by {(actual[k] - expected[k]).abs().max().item<double>():E2}");
    }

    [Fact]
    public void It_keeps_no_state_and_refuses_vectors()
    {
        Assert.Empty(Swan.Declaration.States);
        Assert.Empty(Swan.Declaration.ScalarStates);

        var bias = new Parameter(torch.zeros(5, ScalarType.Float64));
        var e = Assert.Throws<ArgumentException>(() => new Swan(new[] { bias }));
        Assert.Contains("Matrix.NewtonSchulz", e.Message);
    }
}
