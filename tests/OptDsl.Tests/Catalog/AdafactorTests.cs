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
/// Adafactor against its equations (Shazeer &amp; Stern 2018, Alg. 4 with the reference implementations' relative step,
/// parameter scaling and update clipping) written out here over each matrix in float64.
/// </summary>
public class AdafactorTests
{
    static readonly long[][] Shapes = { new long[] { 6, 10 }, new long[] { 12, 5 }, new long[] { 4, 3, 5 } };


    sealed record Setting(double Lr, double ClipThreshold, double DecayRate, double Beta1, double WeightDecay, bool ScaleParameter, bool RelativeStep, bool WarmupInit);

    static readonly Setting Default = new(1e-3, 1, -0.8, 0, 0, true, true, false);

    static Setting Named(string name) => name switch
    {
        "default" => Default,
        "lr_momentum_decay" => new(0.01, 0.5, -0.8, 0.9, 0.1, false, false, false),
        _ => Default with { WarmupInit = true, DecayRate = -0.5, ClipThreshold = 0.2 },
    };

    static Adafactor Create(Parameter[] ps, Setting s) =>
        new(ps, lr: s.Lr, clipThreshold: s.ClipThreshold, decayRate: s.DecayRate, beta1: s.Beta1, weightDecay: s.WeightDecay,
            scaleParameter: s.ScaleParameter, relativeStep: s.RelativeStep, warmupInit: s.WarmupInit);

    static Tensor[] Reference(Setting s, int steps)
    {
        using var kept = KeptScalars.Rent();
        var p = Shapes.Select((shape, k) => TestData.Normal(shape, 10 + (ulong)k)).ToArray();
        var rows = new Tensor[p.Length];
        var columns = new Tensor[p.Length];
        var moments = new Tensor[p.Length];
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                long r = p[k].shape[0], c = p[k].NumberOfElements / r;
                var w = p[k].reshape(r, c);
                var g = TestData.Normal(Shapes[k], 100 * (ulong)t + (ulong)k).reshape(r, c);
                double rho = s.RelativeStep ? Math.Min(s.WarmupInit ? 1e-6 * t : 1e-2, 1 / Math.Sqrt(t)) : s.Lr;
                double rms = Math.Sqrt(w.Squared().mean().item<double>());
                double alpha = s.ScaleParameter ? Math.Max(1e-3, rms) * rho : rho;
                double beta2t = 1 - Math.Pow(t, s.DecayRate);
                var squared = g.Squared().add(kept[1e-30], ScalarCalls.One);
                rows[k] = (rows[k] ?? torch.zeros(r, 1, ScalarType.Float64)).mul(kept[beta2t]).Plus(squared.mean(new long[] { 1 }, keepdim: true).mul(kept[(1 - beta2t)]));
                columns[k] = (columns[k] ?? torch.zeros(1, c, ScalarType.Float64)).mul(kept[beta2t]).Plus(squared.mean(new long[] { 0 }, keepdim: true).mul(kept[(1 - beta2t)]));
                // V ≈ R C / mean(R): the rank-one estimate of the second moment.
                var v = rows[k].matmul(columns[k]) / rows[k].mean();
                var u = g / v.sqrt();
                u = u.mul(kept[alpha]).div(kept[Math.Max(1, Math.Sqrt(u.Squared().mean().item<double>()) / s.ClipThreshold)]);
                if (s.Beta1 > 0)
                {
                    moments[k] = (moments[k] ?? torch.zeros_like(u)).mul(kept[s.Beta1]).Plus(u.mul(kept[(1 - s.Beta1)]));
                    u = moments[k];
                }
                p[k] = (w - w.mul(kept[s.WeightDecay * alpha]) - u).reshape(Shapes[k]);
            }
        return p;
    }

    [Theory]
    [InlineData("default")]
    [InlineData("lr_momentum_decay")]
    [InlineData("warmup_clip")]
    public void Follows_the_factored_equations(string setting)
    {
        var s = Named(setting);
        var expected = Reference(s, 8);
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 1e-5) })
        {
            var parameters = Shapes.Select((shape, k) => new Parameter(TestData.Normal(shape, 10 + (ulong)k).to(dtype))).ToArray();
            using var opt = Create(parameters, s);
            for (int t = 1; t <= 8; t++)
            {
                for (int k = 0; k < parameters.Length; k++) parameters[k].grad = TestData.Normal(Shapes[k], 100 * (ulong)t + (ulong)k).to(dtype);
                opt.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                double error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                Assert.True(error <= tolerance * expected[k].abs().max().item<double>(), $"{setting} {dtype} tensor {k}: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void It_keeps_one_value_per_row_and_per_column()
    {
        var p = new Parameter(TestData.Normal(new long[] { 6, 10 }, 1));
        using var opt = new Adafactor(new[] { p });
        p.grad = TestData.Normal(new long[] { 6, 10 }, 2);
        opt.step();
        var state = opt.StateOf(p);
        Assert.Equal(new long[] { 6, 1 }, state.Row.shape);
        Assert.Equal(new long[] { 1, 10 }, state.Column.shape);
        Assert.Null(state.M);
    }

    /// <summary>
    /// A vector is a matrix of one column: its row average is then the full second moment and its column average that
    /// moment's mean, so the factored estimate R C / mean(R) is R itself — the unfactored Adafactor the reference
    /// implementations use for vectors, written out here.
    /// </summary>
    [Fact]
    public void A_vector_gets_the_unfactored_second_moment()
    {
        using var kept = KeptScalars.Rent();
        var p = new Parameter(TestData.Normal(new long[] { 9 }, 3));
        var expected = p.detach().clone();
        Tensor? v = null;
        using var opt = new Adafactor(new[] { p });
        for (int t = 1; t <= 6; t++)
        {
            var g = TestData.Normal(new long[] { 9 }, 50 + (ulong)t);
            double alpha = Math.Max(1e-3, Math.Sqrt(expected.Squared().mean().item<double>())) * Math.Min(1e-2, 1 / Math.Sqrt(t));
            double beta2t = 1 - Math.Pow(t, -0.8);
            v = (v ?? torch.zeros(9, ScalarType.Float64)).mul(kept[beta2t]).Plus(g.Squared().add(kept[1e-30], ScalarCalls.One).mul(kept[(1 - beta2t)]));
            var u = g / v.sqrt();
            u = u.mul(kept[alpha]).div(kept[Math.Max(1, Math.Sqrt(u.Squared().mean().item<double>()))]);
            expected = expected - u;
            p.grad = g;
            opt.step();
        }
        Assert.True(p.allclose(expected, rtol: 1e-12, atol: 1e-15));
    }

    [Fact]
    public void A_checkpoint_of_row_and_column_state_resumes_exactly()
    {
        Parameter[] Make() => Shapes.Select((shape, k) => new Parameter(TestData.Normal(shape, 10 + (ulong)k).to(ScalarType.Float32))).ToArray();
        var straight = Make();
        using var a = new Adafactor(straight, beta1: 0.9);
        var first = Make();
        using var b = new Adafactor(first, beta1: 0.9);
        for (int t = 1; t <= 6; t++)
        {
            for (int k = 0; k < straight.Length; k++) straight[k].grad = TestData.Normal(Shapes[k], 100 * (ulong)t + (ulong)k).to(ScalarType.Float32);
            a.step();
            if (t > 3) continue;
            for (int k = 0; k < first.Length; k++) first[k].grad = TestData.Normal(Shapes[k], 100 * (ulong)t + (ulong)k).to(ScalarType.Float32);
            b.step();
        }
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"optdsl-adafactor-{Guid.NewGuid():N}.ckpt");
        try
        {
            b.SaveCheckpoint(path);
            var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
            using var c = new Adafactor(resumed, beta1: 0.9);
            c.LoadCheckpoint(path);
            for (int t = 4; t <= 6; t++)
            {
                for (int k = 0; k < resumed.Length; k++) resumed[k].grad = TestData.Normal(Shapes[k], 100 * (ulong)t + (ulong)k).to(ScalarType.Float32);
                c.step();
            }
            for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(straight[k], resumed[k]), $"parameter {k}");
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }
}
