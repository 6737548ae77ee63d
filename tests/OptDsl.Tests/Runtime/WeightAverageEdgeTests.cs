using System;
using System.IO;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Composition;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The weight averages' edges that mutation testing left unchecked (docs/testing.md): an average of a single weight
/// saved and loaded, a count of zero refused, loading into a stage that has averaged already, a parameter replaced under
/// an average, and parameters that joined after averaging started.
/// </summary>
public sealed class WeightAverageEdgeTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-averages-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static void Train(ComposedOptimizer opt, Parameter[] parameters, int from, int to)
    {
        for (int step = from; step <= to; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
    }

    [Fact]
    public void An_average_of_one_weight_is_saved_loaded_and_continued_as_if_never_interrupted()
    {
        // SWA from step 3: right after step 3 it holds one weight, a count a checkpoint must accept.
        var straight = TestData.Parameters(ScalarType.Float64);
        using var uninterrupted = new SGD(straight, lr: 0.1).Compose(WeightAverage.Swa(start: 3));
        Train(uninterrupted, straight, 1, 6);

        var first = TestData.Parameters(ScalarType.Float64);
        using var before = new SGD(first, lr: 0.1).Compose(WeightAverage.Swa(start: 3));
        Train(before, first, 1, 3);
        Assert.Equal(1, before.Stage<WeightAverage>().Count);
        var path = Path.Combine(_folder, "one.ckpt");
        before.SaveCheckpoint(path);

        var resumed = TestData.Copies(first);
        using var after = new SGD(resumed, lr: 0.1).Compose(WeightAverage.Swa(start: 3));
        after.LoadCheckpoint(path);
        Assert.Equal(1, after.Stage<WeightAverage>().Count);
        Train(after, resumed, 4, 6);
        Assert.Equal(4, after.Stage<WeightAverage>().Count);
        var expected = uninterrupted.Stage<WeightAverage>().Averages;
        var actual = after.Stage<WeightAverage>().Averages;
        for (int k = 0; k < expected.Count; k++) Assert.True(TestData.Identical(expected[k], actual[k]), $"average {k}");
    }

    [Fact]
    public void Loading_into_a_stage_that_has_averaged_already_replaces_its_counts()
    {
        // The checkpoint's EMA has seen 3 updates (count 4); the stage it is loaded into has seen 7 (count 8).
        var saved = TestData.Parameters(ScalarType.Float64);
        using var three = new SGD(saved, lr: 0.1).Compose(WeightAverage.Ema(0.5));
        Train(three, saved, 1, 3);
        var path = Path.Combine(_folder, "ema.ckpt");
        three.SaveCheckpoint(path);

        var other = TestData.Parameters(ScalarType.Float64);
        using var seven = new SGD(other, lr: 0.1).Compose(WeightAverage.Ema(0.5));
        Train(seven, other, 1, 7);
        Assert.Equal(8, seven.Stage<WeightAverage>().Count);
        seven.LoadCheckpoint(path);
        Assert.Equal(4, seven.Stage<WeightAverage>().Count);
        Train(seven, other, 4, 5);
        Assert.Equal(6, seven.Stage<WeightAverage>().Count);
    }

    [Fact]
    public void A_stored_count_below_one_is_refused_as_corrupt()
    {
        // The stage's own state as it writes it, with the first count set to 0 (the checkpoint's checksum would catch a
        // damaged file first; this is the stage's own check, for state that reaches it whole but wrong).
        var parameters = TestData.Parameters(ScalarType.Float64);
        var swa = WeightAverage.Swa(start: 1);
        using var opt = new SGD(parameters, lr: 0.1).Compose(swa);
        Train(opt, parameters, 1, 2);
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) swa.WriteState(writer);
        var bytes = stream.ToArray();
        // The counts are the last 8 bytes of each parameter, in order, after the averages: the first of them is here.
        int firstCount = bytes.Length - 8 * parameters.Length;
        BitConverter.GetBytes(0L).CopyTo(bytes, firstCount);
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var e = Assert.Throws<InvalidDataException>(() => swa.ReadState(reader, parameters));
        Assert.Contains("an average of 0 weights", e.Message);
        Assert.Equal(2, swa.Count);
    }

    [Fact]
    public void A_parameter_replaced_under_an_average_is_refused_before_anything_changes()
    {
        var parameters = TestData.Parameters(ScalarType.Float64);
        var ema = WeightAverage.Ema(0.5);
        using var opt = new SGD(parameters, lr: 0.1).Compose(ema);
        Train(opt, parameters, 1, 2);
        var averages = ema.Averages.Select(a => a.clone()).ToArray();
        // The first parameter now holds a tensor of another shape, as if the model's layer had been rebuilt.
        using (torch.no_grad()) parameters[0].set_(torch.zeros(new long[] { 2, 2 }, ScalarType.Float64));
        TestData.SetGradients(parameters.Skip(1).ToArray(), 3);
        parameters[0].grad = torch.ones(new long[] { 2, 2 }, ScalarType.Float64);
        var e = Assert.Throws<InvalidOperationException>(() => opt.step());
        Assert.Contains("was the parameter replaced?", e.Message);
        for (int k = 0; k < averages.Length; k++) Assert.True(TestData.Identical(averages[k], ema.Averages[k]), $"average {k}");
        Assert.Throws<InvalidOperationException>(() => ema.SwapIn());
    }
}
