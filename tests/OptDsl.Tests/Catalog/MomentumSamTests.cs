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
/// Momentum-SAM against the authors' step written out over the whole parameter list in float64 (back to w with the old
/// momentum's direction, SGD's momentum step with the decay taken at the perturbed point, ahead again along the new
/// momentum), 12 steps on the four test tensors; and the unperturbed weights for evaluation.
/// </summary>
public class MomentumSamTests
{
    const int Steps = 12;
    const double Lr = 0.05, Mu = 0.9, Rho = 0.3, Wd = 0.01;

    static (Tensor[] Perturbed, Tensor[] Unperturbed) Reference()
    {
        using var kept = KeptScalars.Rent();
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        var v = p.Select(x => torch.zeros_like(x)).ToArray();
        double inverse = 0;
        for (int t = 1; t <= Steps; t++)
        {
            for (int k = 0; k < p.Length; k++)
            {
                var d = TestData.Gradient(t, k, ScalarType.Float64).Plus(p[k].mul(kept[Wd]));
                p[k] = p[k].Plus(v[k].mul(kept[Rho * inverse]));
                v[k] = v[k].mul(kept[Mu]).Plus(d);
                p[k] = p[k] - v[k].mul(kept[Lr]);
            }
            inverse = 1 / (Math.Sqrt(v.Sum(x => x.Squared().sum().item<double>())) + 1e-12);
            for (int k = 0; k < p.Length; k++) p[k] = p[k] - v[k].mul(kept[Rho * inverse]);
        }
        return (p, p.Select((x, k) => x.Plus(v[k].mul(kept[Rho * inverse]))).ToArray());
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 2e-5)]
    public void Follows_the_authors_step(ScalarType dtype, double tolerance)
    {
        var (perturbed, unperturbed) = Reference();
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new MomentumSam(parameters, lr: Lr, momentum: Mu, rho: Rho, weightDecay: Wd);
        for (int t = 1; t <= Steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        void Check(Tensor[] expected, string what)
        {
            for (int k = 0; k < parameters.Length; k++)
            {
                var error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                var scale = dtype == ScalarType.Float64 ? Math.Max(1, expected[k].abs().max().item<double>()) : 1;
                Assert.True(error <= tolerance * scale, $"{what} {dtype} tensor {k}: off by {error:E2}");
            }
        }
        Check(perturbed, "perturbed");
        var training = parameters.Select(p => p.detach().clone()).ToArray();
        using (optimizer.SwapInUnperturbed())
        {
            Check(unperturbed, "unperturbed");
            Assert.True(optimizer.IsUnperturbedSwappedIn);
            TestData.SetGradients(parameters, 1);
            Assert.Contains("SwapInUnperturbed", Assert.Throws<InvalidOperationException>(() => optimizer.step()).Message);
        }
        for (int k = 0; k < parameters.Length; k++) Assert.True(parameters[k].equal(training[k]).all().item<bool>(), "training point restored exactly");
    }
}
