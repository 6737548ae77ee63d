using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Modifiers (<see cref="Modifier"/>) composed with declared rules, against the modifiers written out around the base
/// rule element by element in float64 over 30 steps of <see cref="TestData"/> gradients (whose scale jumps at steps
/// 7–9 and 13, so MARS's clip acts on some steps and not on others).
/// </summary>
public class ModifierTests
{
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-3, Wd = 0.05, Alpha = 0.9, Lambda = 1.5, Gamma = 0.05, MaxNorm = 1;

    /// <summary>Grokfast, then MARS, then Yogi, then cautious masking, as the modifiers' docs define them.</summary>
    static (double[][] P, int Clipped, int Masked) YogiReference(int steps)
    {
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.data<double>().ToArray()).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var v = p.Select(x => Enumerable.Repeat(1e-6, x.Length).ToArray()).ToArray();
        var average = p.Select(x => new double[x.Length]).ToArray();
        var previous = p.Select(x => new double[x.Length]).ToArray();
        int clipped = 0, masked = 0;
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64).flatten().data<double>().ToArray();
                int n = g.Length;
                for (int i = 0; i < n; i++)
                {
                    average[k][i] = t == 1 ? g[i] : Alpha * average[k][i] + (1 - Alpha) * g[i];
                    g[i] += Lambda * average[k][i];
                }
                var gc = MarsReference.Corrected(g, previous[k], Gamma, Beta1, MaxNorm, ref clipped);
                previous[k] = g;
                var change = new double[n];
                for (int i = 0; i < n; i++)
                {
                    double d = gc[i] + Wd * p[k][i], d2 = d * d;
                    m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * d;
                    v[k][i] -= (1 - Beta2) * Math.Sign(v[k][i] - d2) * d2;
                    change[i] = -Lr * m[k][i] / (Math.Sqrt(v[k][i]) + Eps);
                }
                var mask = change.Select((x, i) => x * gc[i] < 0 ? 1.0 : 0.0).ToArray();
                if (mask.Any(x => x == 0)) masked++;
                double kept = Math.Max(mask.Average(), 1e-3);
                for (int i = 0; i < n; i++) p[k][i] += change[i] * mask[i] / kept;
            }
        return (p, clipped, masked);
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: a step's rounding (1e-7 of the weights) over 30 steps through the norm, the mask's mean and Yogi's
    // sign; a mask that flips on rounding would move an element by a whole step (0.01), far past this bound.
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-5)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-5)]
    public void Yogi_with_all_three_modifiers_follows_them_written_out_around_Yogi(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var (expected, clipped, masked) = YogiReference(30);
        Assert.InRange(clipped, 1, 30 * expected.Length - 1);
        Assert.True(masked > 0, "the mask never acted");
        var parameters = TestData.Parameters(dtype);
        using var optimizer = new GrokMarsCautiousYogi(parameters, lr: Lr, beta1: Beta1, beta2: Beta2, eps: Eps, weightDecay: Wd,
            grokfastAlpha: Alpha, grokfastLambda: Lambda, marsGamma: Gamma, marsMaxNorm: MaxNorm) { Backend = backend };
        TestData.Run(parameters, optimizer, 30);
        // The norm, then the mask's mean (which waits for the norm): three passes.
        if (backend == UpdateBackend.Fused) Assert.Contains("3 phases", optimizer.FusedStatus);
        TestData.AssertClose(parameters, expected, tolerance);
    }

    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    // float32: the two round differently (one scales the change, the other the step), by about 1e-7 of a weight a step.
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 1e-5)]
    public void Cautious_AdamW_composed_from_the_catalogs_AdamW_matches_the_catalogs_Cautious_AdamW(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        // Without weight decay AdamW's change is -lr·m̂/(√v̂ + ε), which moves against g exactly where m·g > 0: the
        // catalog's mask.
        var ours = TestData.Parameters(dtype);
        var theirs = TestData.Copies(ours);
        using var composed = new ComposedCautiousAdamW(ours, lr: Lr, weightDecay: 0) { Backend = backend };
        using var catalog = new CautiousAdamW(theirs, lr: Lr, weightDecay: 0) { Backend = backend };
        for (int t = 1; t <= 30; t++)
        {
            TestData.SetGradients(ours, t);
            TestData.SetGradients(theirs, t);
            composed.step();
            catalog.step();
        }
        for (int k = 0; k < ours.Length; k++)
        {
            double error = (ours[k] - theirs[k]).abs().max().to(ScalarType.Float64).item<double>();
            Assert.True(error <= tolerance, $"tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void A_base_of_this_assembly_carries_its_own_modifier_into_the_declaration_built_on_it()
    {
        // GrokfastCautiousHeavyBall = Grokfast around (cautious around heavy ball): with alpha 0 and lambda 0 the
        // filter passes the gradient through, so it steps exactly as CautiousHeavyBall.
        var ours = TestData.Parameters(ScalarType.Float64);
        var theirs = TestData.Copies(ours);
        using var composed = new GrokfastCautiousHeavyBall(ours, grokfastAlpha: 0, grokfastLambda: 0);
        using var single = new CautiousHeavyBall(theirs);
        Assert.Equal(new[] { "lr", "momentum", "grokfastAlpha", "grokfastLambda" }, GrokfastCautiousHeavyBall.Declaration.Hypers.Select(h => h.Name));
        Assert.Equal(new[] { "buffer", "grokfastAverage" }, GrokfastCautiousHeavyBall.Declaration.States.Select(s => s.Name));
        int maskedSteps = 0;
        for (int t = 1; t <= 20; t++)
        {
            TestData.SetGradients(ours, t);
            TestData.SetGradients(theirs, t);
            var before = theirs.Select(p => p.detach().clone()).ToArray();
            composed.step();
            single.step();
            // Heavy ball's change is -lr·buffer: an element against the gradient is held where buffer·g < 0.
            maskedSteps += theirs.Zip(before).Any(x => x.First.eq(x.Second).any().item<bool>()) ? 1 : 0;
        }
        Assert.True(maskedSteps > 0, "the mask never held an element");
        for (int k = 0; k < ours.Length; k++)
            Assert.True(ours[k].eq(theirs[k]).all().item<bool>(), $"tensor {k} differs");
    }

    [Fact]
    public void The_composed_class_documents_what_it_is_made_of()
    {
        Assert.Equal(new[] { "lr", "beta1", "beta2", "eps", "initialAccumulator", "weightDecay", "grokfastAlpha", "grokfastLambda", "marsGamma", "marsMaxNorm" },
            GrokMarsCautiousYogi.Declaration.Hypers.Select(h => h.Name));
        // MARS takes Yogi's own beta1, so it adds no marsBeta.
        Assert.Equal(new[] { "m", "v", "grokfastAverage", "marsPrevious" }, GrokMarsCautiousYogi.Declaration.States.Select(s => s.Name));
        var source = typeof(GrokMarsCautiousYogi).GetCustomAttributes(typeof(DeclarationSourceAttribute), false).Cast<DeclarationSourceAttribute>().Single();
        Assert.Contains("Reduce.Mean(cautiousMask)", source.Members);
        Assert.Contains("Reduce.Norm(marsCorrected)", source.Members);
    }
}
