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
/// Prodigy against its algorithm written out here over the whole parameter list in float64 (the paper's Algorithm 3
/// in the order of the authors' implementation: moments with the previous d, d̂ from the β3-EMAs, the update with the
/// previous d's step and the new d's eps), 12 steps on the four test tensors, under several settings.
/// </summary>
public class ProdigyTests
{
    const int Steps = 12;

    sealed record Settings(double Lr = 1, double Beta1 = 0.9, double Beta2 = 0.999, double Beta3 = 0, double Eps = 1e-8,
        double Wd = 0, bool Decouple = true, bool BiasCorrection = false, bool Safeguard = false, double D0 = 1e-6,
        double DCoef = 1, double Growth = float.MaxValue);

    static readonly (string Name, Settings S)[] Cases =
    {
        ("defaults", new Settings()),
        ("decoupled decay, beta3, dCoef", new Settings(Wd: 0.1, Beta3: 0.9, DCoef: 0.5, D0: 1e-3)),
        ("coupled decay, bias correction, growth", new Settings(Wd: 0.01, Decouple: false, BiasCorrection: true, Growth: 1.5)),
        ("safeguard warmup", new Settings(Safeguard: true, D0: 1e-2)),
    };

    public static TheoryData<string> Names() => new(Cases.Select(c => c.Name));

    /// <summary>
    /// The gradient of a quadratic pulling each tensor toward a target, plus a tenth of the test data's noise: d can only
    /// grow where the weights move along the gradients, which random gradients do not give.
    /// </summary>
    static Tensor Gradient(int t, int k, Tensor p)
    {
        using var kept = KeptScalars.Rent();
        using var _ = torch.no_grad();
        var target = TestData.Gradient(99, k, p.dtype).mul(kept[2]);
        return (p.detach() - target).Plus(TestData.Gradient(t, k, p.dtype).mul(kept[0.1]));
    }

    /// <summary>The algorithm, whole parameter list at a time, in float64; returns the weights and the final d.</summary>
    static (Tensor[] P, double D) Reference(Settings c, ScalarType dtype = ScalarType.Float64)
    {
        using var kept = KeptScalars.Rent();
        var p = TestData.Parameters(dtype).Select(x => x.detach().clone()).ToArray();
        var x0 = p.Select(x => x.clone()).ToArray();
        var m = p.Select(x => torch.zeros_like(x)).ToArray();
        var v = p.Select(x => torch.zeros_like(x)).ToArray();
        var s = p.Select(x => torch.zeros_like(x)).ToArray();
        double d = c.D0, dMax = c.D0, numerator = 0;
        double beta3 = c.Beta3 > 0 ? c.Beta3 : Math.Sqrt(c.Beta2);
        for (int t = 1; t <= Steps; t++)
        {
            double correction = c.BiasCorrection ? Math.Sqrt(1 - Math.Pow(c.Beta2, t)) / (1 - Math.Pow(c.Beta1, t)) : 1;
            double dlr = d * c.Lr * correction;
            var g = Enumerable.Range(0, p.Length).Select(k => Gradient(t, k, p[k])).ToArray();
            if (!c.Decouple) g = g.Select((x, k) => x.Plus(p[k].mul(kept[c.Wd]))).ToArray();
            numerator *= beta3;
            double denominator = 0;
            for (int k = 0; k < p.Length; k++)
            {
                numerator += d / c.D0 * dlr * (g[k] * (x0[k] - p[k])).sum().to(ScalarType.Float64).item<double>();
                m[k] = m[k].mul(kept[c.Beta1]).Plus(g[k].mul(kept[d * (1 - c.Beta1)]));
                v[k] = v[k].mul(kept[c.Beta2]).Plus(g[k].mul(kept[d * d * (1 - c.Beta2)]) * g[k]);
                s[k] = s[k].mul(kept[beta3]).Plus(g[k].mul(kept[d / c.D0 * (c.Safeguard ? d : dlr)]));
                denominator += s[k].abs().sum().to(ScalarType.Float64).item<double>();
            }
            if (denominator == 0) continue;
            double dHat = c.DCoef * numerator / denominator;
            if (d == c.D0) d = Math.Max(d, dHat);
            dMax = Math.Max(dMax, dHat);
            d = Math.Min(dMax, d * c.Growth);
            for (int k = 0; k < p.Length; k++)
            {
                if (c.Decouple) p[k] = p[k] - p[k].mul(kept[c.Wd * dlr]);
                p[k] = p[k] - m[k].mul(kept[dlr]) / v[k].sqrt().add(kept[d * c.Eps], ScalarCalls.One);
            }
        }
        return (p, d);
    }

    static Prodigy Create(Parameter[] ps, Settings c) => new(ps, lr: c.Lr, beta1: c.Beta1, beta2: c.Beta2, beta3: c.Beta3, eps: c.Eps,
        weightDecay: c.Wd, decouple: c.Decouple, useBiasCorrection: c.BiasCorrection, safeguardWarmup: c.Safeguard, d0: c.D0,
        dCoef: c.DCoef, growthRate: c.Growth);

    /// <summary>
    /// float64: the sums in another order, 1e-12 relative. float32: d̂ is a ratio of sums of products that partly cancel,
    /// and d grows by orders of magnitude in a few steps, so float32 rounding is amplified; the bound is three times how
    /// far the same algorithm written here in float32 tensors lands from the float64 one (at least 1e-6).
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Follows_the_algorithm(string name)
    {
        var c = Cases.Single(x => x.Name == name).S;
        var (expected, expectedD) = Reference(c);
        Assert.True(expectedD > c.D0 * 10, $"d should have grown from d0 (it is {expectedD:E3})");
        var (inFloat32, dInFloat32) = Reference(c, ScalarType.Float32);
        double dError = Math.Max(1e-6, Math.Abs(dInFloat32 - expectedD) / expectedD);
        double float32Error = Math.Max(1e-6, expected.Zip(inFloat32, (a, b) => (a - b.to(ScalarType.Float64)).abs().max().item<double>()).Max());
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 3 * float32Error) })
        {
            var parameters = TestData.Parameters(dtype);
            using var optimizer = Create(parameters, c);
            for (int t = 1; t <= Steps; t++)
            {
                for (int k = 0; k < parameters.Length; k++) parameters[k].grad = Gradient(t, k, parameters[k]);
                optimizer.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                var error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                var scale = dtype == ScalarType.Float64 ? Math.Max(1, expected[k].abs().max().item<double>()) : 1;
                Assert.True(error <= tolerance * scale, $"{name} {dtype} tensor {k}: off by {error:E2}");
                var d = optimizer.StateOf(parameters[k]).D;
                Assert.True(Math.Abs(d - expectedD) <= (dtype == ScalarType.Float64 ? 1e-12 : 3 * dError) * expectedD, $"{dtype} d = {d:E6}, expected {expectedD:E6}");
            }
        }
    }

    [Fact]
    public void All_zero_gradients_leave_the_weights_alone()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        using var optimizer = new Prodigy(parameters, weightDecay: 0.1);
        using (torch.no_grad())
            foreach (var p in parameters) p.grad = torch.zeros_like(p);
        optimizer.step();
        for (int k = 0; k < parameters.Length; k++)
            Assert.True(parameters[k].equal(before[k]).all().item<bool>());
        Assert.Equal(1e-6, optimizer.StateOf(parameters[0]).D, 12);
    }
}
