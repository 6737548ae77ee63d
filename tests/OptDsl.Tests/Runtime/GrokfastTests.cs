using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>The Grokfast-EMA stage against the authors' gradfilter_ema written out in float64, its checkpoint, and its checks.</summary>
public class GrokfastTests
{
    const double Alpha = 0.9, Lambda = 2.0, Lr = 0.1;

    [Fact]
    public void It_adds_the_gradients_moving_average_to_each_gradient_as_the_authors_filter_does()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        using var optimizer = new SGD(parameters, lr: Lr).Compose(new Grokfast(Alpha, Lambda));
        var p = parameters.Select(x => x.detach().clone()).ToArray();
        var h = new Tensor?[p.Length];
        for (int step = 1; step <= 8; step++)
        {
            TestData.SetGradients(parameters, step);
            optimizer.step();
            for (int k = 0; k < p.Length; k++)
            {
                // gradfilter_ema: the average starts at the first gradient, then h = αh + (1 − α)g; g ← g + λh.
                var g = TestData.Gradient(step, k, ScalarType.Float64);
                h[k] = h[k] is null ? g.clone() : h[k]!.mul(kept[Alpha]).Plus(g.mul(kept[1 - Alpha]));
                var filtered = g.Plus(h[k]!.mul(kept[Lambda]));
                p[k] = p[k] - filtered.mul(kept[Lr]);
                Assert.True((parameters[k].grad! - filtered).abs().max().item<double>() < 1e-14, $"step {step}: gradient {k}");
            }
        }
        for (int k = 0; k < p.Length; k++)
        {
            Assert.True((parameters[k] - p[k]).abs().max().item<double>() < 1e-12, $"parameter {k}");
            Assert.True((optimizer.Stage<Grokfast>().Averages[k] - h[k]!).abs().max().item<double>() < 1e-14, $"average {k}");
        }
        Assert.Equal(p.Sum(x => 8 * x.NumberOfElements), optimizer.Stage<Grokfast>().StateBytes);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_repeats_the_run_and_a_misfit_changes_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("optdsl-grokfast-").FullName;
        try
        {
            var straight = TestData.Parameters(ScalarType.Float32);
            using var uninterrupted = new SGD(straight, lr: Lr, momentum: 0.9).Compose(new Grokfast());
            var first = TestData.Parameters(ScalarType.Float32);
            using var before = new SGD(first, lr: Lr, momentum: 0.9).Compose(new Grokfast());
            for (int step = 1; step <= 4; step++)
            {
                TestData.SetGradients(straight, step);
                uninterrupted.step();
                TestData.SetGradients(first, step);
                before.step();
            }
            var path = Path.Combine(folder, "grokfast.ckpt");
            before.SaveCheckpoint(path);
            var resumed = TestData.Copies(first);
            using var after = new SGD(resumed, lr: Lr, momentum: 0.9).Compose(new Grokfast());
            after.LoadCheckpoint(path);
            for (int step = 5; step <= 8; step++)
            {
                TestData.SetGradients(straight, step);
                uninterrupted.step();
                TestData.SetGradients(resumed, step);
                after.step();
            }
            for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(straight[k], resumed[k]), $"parameter {k}");

            // The same recipe over other shapes: refused, and the optimizer it was loaded into is as it was.
            var other = new[] { new Parameter(torch.ones(3, 3)) };
            using var misfit = new SGD(other, lr: Lr, momentum: 0.9).Compose(new Grokfast());
            Assert.ThrowsAny<Exception>(() => misfit.LoadCheckpoint(path));
            Assert.Empty(misfit.Stage<Grokfast>().Averages);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(1.0, 2.0)]
    [InlineData(-0.1, 2.0)]
    [InlineData(0.9, -1.0)]
    [InlineData(0.9, double.PositiveInfinity)]
    [InlineData(double.NaN, 2.0)]
    public void Settings_outside_their_ranges_are_refused(double alpha, double lambda) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Grokfast(alpha, lambda));
}
