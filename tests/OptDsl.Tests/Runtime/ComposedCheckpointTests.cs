using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// A whole recipe — scheduled AdamW, accumulation, clipping, Lookahead, EMA and SWA — saved midway and resumed in a
/// fresh optimizer repeats the uninterrupted run bit for bit; a checkpoint that does not fit changes nothing.
/// </summary>
public sealed class ComposedCheckpointTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-composed-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static ComposedOptimizer Recipe(Parameter[] parameters, UpdateBackend backend, int microSteps = 2)
    {
        var adamw = new AdamW(parameters, lr: 0.01, weightDecay: 0.01) { Backend = backend };
        adamw.Schedule("lr", Schedules.Wsd(totalSteps: 12, warmupSteps: 3, decayFraction: 0.3, peak: 0.01));
        return adamw.Compose(new AccumulateGradients(microSteps), new ClipGradNorm(0.5), new Lookahead(k: 3, alpha: 0.5),
            WeightAverage.Ema(0.9), WeightAverage.Swa(start: 2, every: 2));
    }

    /// <summary>One micro-batch: the first of a window sets the gradients, later ones add to them, as backward() does.</summary>
    static void MicroStep(ComposedOptimizer opt, Parameter[] parameters, int update, int micro)
    {
        opt.zero_grad();
        TestData.AddGradients(parameters, 2 * update + micro);
        opt.step();
    }

    static void Train(ComposedOptimizer opt, Parameter[] parameters, int fromUpdate, int toUpdate)
    {
        for (int u = fromUpdate; u <= toUpdate; u++)
            for (int m = 0; m < 2; m++) MicroStep(opt, parameters, u, m);
    }


    static void AssertIdentical(IReadOnlyList<Tensor> expected, IReadOnlyList<Tensor> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int k = 0; k < expected.Count; k++) Assert.True(TestData.Identical(expected[k], actual[k]), $"{what} {k} differs");
    }

    [Theory]
    [InlineData(UpdateBackend.Portable)]
    [InlineData(UpdateBackend.Fused)]
    public void Resuming_a_composed_recipe_repeats_the_uninterrupted_run_bit_for_bit(UpdateBackend backend)
    {
        var straight = TestData.Parameters(ScalarType.Float32);
        using var uninterrupted = Recipe(straight, backend);
        Train(uninterrupted, straight, 1, 12);

        var first = TestData.Parameters(ScalarType.Float32);
        using var before = Recipe(first, backend);
        Train(before, first, 1, 5);
        var path = Path.Combine(_folder, "recipe.ckpt");
        before.SaveCheckpoint(path);

        var resumed = TestData.Copies(first);
        using var after = Recipe(resumed, backend);
        after.LoadCheckpoint(path);
        Assert.Equal(5, after.StepCount);
        Assert.Equal(5, ((AdamW)after.Inner).StepCount);
        Train(after, resumed, 6, 12);

        Assert.Equal(12, after.StepCount);
        AssertIdentical(straight, resumed, "parameter");
        AssertIdentical(uninterrupted.Stage<Lookahead>().SlowWeights, after.Stage<Lookahead>().SlowWeights, "slow weight");
        var averages = (uninterrupted.Stages.OfType<WeightAverage>().ToList(), after.Stages.OfType<WeightAverage>().ToList());
        for (int i = 0; i < 2; i++)
        {
            AssertIdentical(averages.Item1[i].Averages, averages.Item2[i].Averages, averages.Item1[i].Name);
            Assert.Equal(averages.Item1[i].Count, averages.Item2[i].Count);
        }
        // The run is not trivial: the clip binds, and the save fell mid-way through a Lookahead cycle of 3.
        Assert.True(after.Stage<ClipGradNorm>().LastNorm!.item<float>() > 0.5f);
        Assert.Equal(uninterrupted.Stage<ClipGradNorm>().LastNorm!.item<float>(), after.Stage<ClipGradNorm>().LastNorm!.item<float>());
        Assert.True(averages.Item2[1].Count > 1);
        Assert.Equal(((AdamW)uninterrupted.Inner).OptionsOf(0).LearningRate, ((AdamW)after.Inner).OptionsOf(0).LearningRate);
    }

    /// <summary>Everything a refused load must leave as it was.</summary>
    sealed record Snapshot(Tensor[] Parameters, Tensor[] Slow, Tensor[] Ema, long StepCount, long InnerSteps)
    {
        public static Snapshot Of(ComposedOptimizer opt, Parameter[] parameters) => new(
            parameters.Select(p => p.detach().clone()).ToArray(),
            opt.Stage<Lookahead>().SlowWeights.Select(t => t.clone()).ToArray(),
            opt.Stages.OfType<WeightAverage>().First().Averages.Select(t => t.clone()).ToArray(),
            opt.StepCount, ((AdamW)opt.Inner).StepCount);

        public void AssertUnchanged(ComposedOptimizer opt, Parameter[] parameters)
        {
            var now = Of(opt, parameters);
            AssertIdentical(Parameters, now.Parameters, "parameter");
            AssertIdentical(Slow, now.Slow, "slow weight");
            AssertIdentical(Ema, now.Ema, "average");
            Assert.Equal(StepCount, now.StepCount);
            Assert.Equal(InnerSteps, now.InnerSteps);
        }
    }

    (ComposedOptimizer Opt, Parameter[] Parameters, Snapshot Before) Trained(int updates)
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = Recipe(parameters, UpdateBackend.Portable);
        Train(opt, parameters, 1, updates);
        return (opt, parameters, Snapshot.Of(opt, parameters));
    }

    string SavedRecipe(int updates)
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var opt = Recipe(parameters, UpdateBackend.Portable);
        Train(opt, parameters, 1, updates);
        var path = Path.Combine(_folder, $"recipe-{updates}.ckpt");
        opt.SaveCheckpoint(path);
        return path;
    }

    [Fact]
    public void A_checkpoint_of_another_recipe_is_refused_before_anything_changes()
    {
        var path = SavedRecipe(4);
        var parameters = TestData.Parameters(ScalarType.Float32);
        using var fewer = new AdamW(parameters).Compose(new AccumulateGradients(2), new ClipGradNorm(0.5));
        var e = Assert.Throws<InvalidDataException>(() => fewer.LoadCheckpoint(path));
        Assert.Contains("stages [AccumulateGradients,ClipGradNorm,Lookahead,Ema,Swa]", e.Message);
        Assert.Contains("this one has [AccumulateGradients,ClipGradNorm]", e.Message);

        var (opt, trained, before) = Trained(2);
        using (opt)
        {
            using var other = Recipe(TestData.Parameters(ScalarType.Float32), UpdateBackend.Portable, microSteps: 4);
            var m = Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));
            Assert.Contains("over 2 micro-steps; this optimizer over 4", m.Message);
            before.AssertUnchanged(opt, trained);
        }
    }

    [Fact]
    public void Plain_and_composed_checkpoints_are_told_apart()
    {
        var composedPath = SavedRecipe(3);
        var plainPath = Path.Combine(_folder, "plain.ckpt");
        var plainParameters = TestData.Parameters(ScalarType.Float32);
        using (var plain = new AdamW(plainParameters))
        {
            TestData.SetGradients(plainParameters, 1);
            plain.step();
            plain.SaveCheckpoint(plainPath);

            var e = Assert.Throws<InvalidDataException>(() => plain.LoadCheckpoint(composedPath));
            Assert.Contains("composed", e.Message);
            Assert.Equal(1, plain.StepCount);
        }

        var (opt, parameters, before) = Trained(2);
        using (opt)
        {
            var p = Assert.Throws<InvalidDataException>(() => opt.LoadCheckpoint(plainPath));
            Assert.Contains("plain", p.Message);
            before.AssertUnchanged(opt, parameters);
        }
    }

    [Fact]
    public void A_corrupt_or_truncated_composed_checkpoint_changes_nothing()
    {
        var path = SavedRecipe(5);
        var bytes = File.ReadAllBytes(path);
        var (opt, parameters, before) = Trained(2);
        using (opt)
        {
            var corrupt = Path.Combine(_folder, "corrupt.ckpt");
            var flipped = (byte[])bytes.Clone();
            flipped[flipped.Length * 2 / 3] ^= 0x10;
            File.WriteAllBytes(corrupt, flipped);
            Assert.Throws<InvalidDataException>(() => opt.LoadCheckpoint(corrupt));
            before.AssertUnchanged(opt, parameters);

            var truncated = Path.Combine(_folder, "truncated.ckpt");
            File.WriteAllBytes(truncated, bytes.Take(bytes.Length - 100).ToArray());
            Assert.Throws<InvalidDataException>(() => opt.LoadCheckpoint(truncated));
            before.AssertUnchanged(opt, parameters);
        }
    }

    [Fact]
    public void Saving_in_the_middle_of_an_accumulation_window_is_refused()
    {
        var (opt, parameters, _) = Trained(1);
        using (opt)
        {
            MicroStep(opt, parameters, 2, 0);
            var path = Path.Combine(_folder, "mid.ckpt");
            var e = Assert.Throws<InvalidOperationException>(() => opt.SaveCheckpoint(path));
            Assert.Contains("1 of 2 micro-steps", e.Message);
            Assert.False(File.Exists(path));
            MicroStep(opt, parameters, 2, 1);
            opt.SaveCheckpoint(path);
            Assert.True(File.Exists(path));
        }
    }

    [Fact]
    public void Checkpoints_need_an_inner_optimizer_declared_with_OptDsl()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
#pragma warning disable RS0030 // refused before any step
        using var opt = torch.optim.SGD(parameters, 0.1).Compose(new ClipGradNorm(1));
#pragma warning restore RS0030
        var e = Assert.Throws<NotSupportedException>(() => opt.SaveCheckpoint(Path.Combine(_folder, "sgd.ckpt")));
        Assert.Contains("save_state_dict", e.Message);
    }

    [Fact]
    public void Loading_while_an_average_is_swapped_in_is_refused()
    {
        var path = SavedRecipe(3);
        var (opt, parameters, before) = Trained(2);
        using (opt)
        {
            using (opt.Stages.OfType<WeightAverage>().First().SwapIn())
            {
                Assert.ThrowsAny<InvalidOperationException>(() => opt.LoadCheckpoint(path));
            }
            before.AssertUnchanged(opt, parameters);
        }
    }
}
