using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// A checkpoint loaded into an optimizer built with other hyperparameters — every value of every group different,
/// the learning rate and its initial value included — brings back the saved values, so training goes on exactly as
/// the uninterrupted run; for a declared optimizer and for one composed with stages.
/// </summary>
public sealed class ResumeWithOtherHyperparametersTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-resume-").FullName;

    // Run alone, the first torch call here comes before any optimizer's: load the native fix first (see the report of
    // this change: the module initializer's resolver does not catch TorchSharp's first load).
    public ResumeWithOtherHyperparametersTests() => OptDsl.Runtime.Services.Native.TorchSharpNative.EnsureLoadable();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Two groups; <paramref name="other"/> builds it with different values for every hyperparameter of both.</summary>
    static AdamW Build(Parameter[] parameters, bool other) => other
        ? new AdamW(new[]
            {
                new AdamW.ParamGroup(parameters.Take(1), lr: 0.7, beta1: 0.5),
                new AdamW.ParamGroup(parameters.Skip(1), lr: 0.9, beta2: 0.5, amsgrad: false),
            }, lr: 0.3, beta1: 0.6, beta2: 0.7, eps: 1e-3, weightDecay: 0.25, amsgrad: true)
        : new AdamW(new[]
            {
                new AdamW.ParamGroup(parameters.Take(1), lr: 0.01),
                new AdamW.ParamGroup(parameters.Skip(1), lr: 0.003, beta1: 0.8, amsgrad: true),
            }, lr: 0.02, weightDecay: 0.01);

    static void Train(optim.Optimizer optimizer, Parameter[] parameters, int from, int to)
    {
        for (int step = from; step <= to; step++)
        {
            TestData.SetGradients(parameters, step);
            optimizer.step();
        }
    }

    /// <summary>Every hyperparameter of every group, the learning rate and the initial learning rate, as loaded.</summary>
    static void AssertSameOptions(AdamW expected, AdamW actual)
    {
        Assert.Equal(expected.GroupCount, actual.GroupCount);
        for (int g = 0; g < expected.GroupCount; g++)
        {
            var (e, a) = (expected.OptionsOf(g), actual.OptionsOf(g));
            foreach (var hyper in expected.Spec.Hypers) Assert.True(e[hyper.Name] == a[hyper.Name], $"group {g}: '{hyper.Name}' is {a[hyper.Name]}, saved {e[hyper.Name]}");
            Assert.Equal(e.LearningRate, a.LearningRate);
            Assert.Equal(e.InitialLearningRate, a.InitialLearningRate);
        }
    }

    [Fact]
    public void A_declared_optimizer_built_with_other_hyperparameters_takes_the_checkpoints()
    {
        var straight = TestData.Parameters(ScalarType.Float32);
        var uninterrupted = Build(straight, other: false);
        Train(uninterrupted, straight, 1, 8);

        var first = TestData.Parameters(ScalarType.Float32);
        var before = Build(first, other: false);
        Train(before, first, 1, 4);
        var path = Path.Combine(_folder, "adamw.ckpt");
        before.SaveCheckpoint(path);

        var resumed = TestData.Copies(first);
        var after = Build(resumed, other: true);
        Assert.NotEqual(before.OptionsOf(1).InitialLearningRate, after.OptionsOf(1).InitialLearningRate);
        after.LoadCheckpoint(path);
        AssertSameOptions(before, after);
        Train(after, resumed, 5, 8);

        for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(straight[k], resumed[k]), $"parameter {k} differs");
        AssertSameOptions(uninterrupted, after);
    }

    [Fact]
    public void A_composed_optimizer_built_with_other_hyperparameters_takes_the_checkpoints()
    {
        static ComposedOptimizer Recipe(Parameter[] parameters, bool other) =>
            Build(parameters, other).Compose(new ClipGradNorm(0.5), new Lookahead(k: 3, alpha: 0.5));

        var straight = TestData.Parameters(ScalarType.Float32);
        using var uninterrupted = Recipe(straight, other: false);
        Train(uninterrupted, straight, 1, 8);

        var first = TestData.Parameters(ScalarType.Float32);
        using var before = Recipe(first, other: false);
        Train(before, first, 1, 4);
        var path = Path.Combine(_folder, "composed.ckpt");
        before.SaveCheckpoint(path);

        var resumed = TestData.Copies(first);
        using var after = Recipe(resumed, other: true);
        after.LoadCheckpoint(path);
        AssertSameOptions((AdamW)before.Inner, (AdamW)after.Inner);
        Train(after, resumed, 5, 8);

        for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(straight[k], resumed[k]), $"parameter {k} differs");
        AssertSameOptions((AdamW)uninterrupted.Inner, (AdamW)after.Inner);
    }
}
