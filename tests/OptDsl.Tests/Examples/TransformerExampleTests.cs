using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using OptDsl.Tests.Shared;
using TorchSharp;
using Transformer;
using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>
/// The transformer example, shortened to CI's size: a GPT on bytes trained with Muon + AdamW routed, WSD and clipping,
/// its summary snapshot-tested. The corpus is the licence texts of Debian's base-files (the same on every Debian
/// machine), not the SDK's documentation, whose text changes with the SDK's patch version.
/// </summary>
[Collection(ExamplesCollection.Name)]
public class TransformerExampleTests
{
    const string Licenses = "/usr/share/common-licenses";

    static Training Shortened(Corpus corpus, int steps = 60) =>
        new(GptConfig.Tiny, corpus, new Recipe(steps), torch.CPU, evalEvery: 20, evalBatches: 2);

    [Fact]
    public void A_tiny_GPT_learns_the_licence_texts_and_its_summary_matches_the_snapshot()
    {
        Assert.True(Directory.Exists(Licenses), $"{Licenses} (Debian's base-files) is missing");
        var log = Shortened(Corpus.Load(Licenses)).Run();
        Assert.Equal(60, log.Losses.Count);
        Assert.Equal(new[] { 0.0, 20, 40, 60 }, log.Validation.Select(v => v[0]));
        // Bytes drawn uniformly cost ln 256 = 5.55 nats; after 60 steps the model knows English letters' frequencies.
        Assert.InRange(log.Losses[0], 5.3, 5.8);
        Assert.True(log.Validation[^1][1] < 3.2, $"validation loss {log.Validation[^1][1]}");
        Assert.Equal(GptConfig.Tiny.TokensPerStep, log.TokensPerStep);
        Snapshot.Match(Summary.Of(log), "Transformer");
    }

    [Fact]
    public void The_export_holds_what_the_PyTorch_twin_reads_and_the_report_renders_two_runs()
    {
        var corpus = Corpus.Load(Licenses);
        var training = Shortened(corpus, steps: 8);
        var folder = Path.Combine(Path.GetTempPath(), $"optdsl-gpt-{Guid.NewGuid():N}");
        try
        {
            Export.Write(training, corpus, folder);
            using var model = training.NewModel();
            long parameters = model.parameters().Sum(p => p.NumberOfElements);
            Assert.Equal(4 * parameters, new FileInfo(Path.Combine(folder, "init.bin")).Length);
            Assert.Equal(corpus.Bytes, File.ReadAllBytes(Path.Combine(folder, "corpus.bin")));
            var offsets = File.ReadAllBytes(Path.Combine(folder, "offsets.bin"));
            Assert.Equal(8 * GptConfig.Tiny.Batch * 8, offsets.Length);
            Assert.Equal(training.TrainOffsets(3)[5], BitConverter.ToInt64(offsets, 8 * (3 * GptConfig.Tiny.Batch + 5)));

            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
            var root = manifest.RootElement;
            Assert.Equal(8, root.GetProperty("lrFactor").GetArrayLength());
            Assert.Equal(training.Recipe.Factor(0), root.GetProperty("lrFactor")[0].GetDouble());
            Assert.Equal(model.named_parameters().Select(np => np.name), root.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
            Assert.Equal(0.02, root.GetProperty("recipe").GetProperty("MuonLr").GetDouble());

            var log = training.Run();
            var path = Path.Combine(folder, "run.json");
            Report.Save(log, path);
            var again = Report.Load(path);
            Assert.Equal(log.Losses, again.Losses);
            var table = Report.Table(new[] { log, again with { Framework = "PyTorch" } });
            Assert.Contains("PyTorch", table);
            Assert.Contains("validation loss at step:", table);
            var png = Path.Combine(folder, "curves.png");
            Report.Plot(new[] { log, again }, png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Batches_are_drawn_reproducibly_inside_their_part_of_the_corpus()
    {
        var corpus = new Corpus(Enumerable.Range(0, 10_000).Select(i => (byte)(i % 251)).ToArray(), "generated");
        Assert.Equal(9_000, corpus.TrainBytes);
        for (int step = 0; step < 50; step++)
        {
            var train = corpus.Offsets(7, step, 16, 64);
            Assert.Equal(train, corpus.Offsets(7, step, 16, 64));
            Assert.All(train, o => Assert.InRange(o, 0, corpus.TrainBytes - 65));
            Assert.All(corpus.Offsets(7, step, 16, 64, validation: true), o => Assert.InRange(o, corpus.TrainBytes, corpus.Bytes.Length - 65));
        }
        Assert.NotEqual(corpus.Offsets(7, 0, 16, 64), corpus.Offsets(7, 1, 16, 64));
        Assert.NotEqual(corpus.Offsets(7, 0, 16, 64), corpus.Offsets(8, 0, 16, 64));
        Assert.Throws<ArgumentException>(() => corpus.Offsets(7, 0, 4, 2000, validation: true));
        Assert.Throws<ArgumentException>(() => new Corpus(new byte[100], "too short"));
    }

    [Fact]
    public void The_SDK_documentation_reads_as_prose()
    {
        var corpus = Corpus.FromSdkDocumentation();
        Assert.True(corpus.Bytes.Length > 1_000_000, $"{corpus.Bytes.Length} bytes");
        var text = System.Text.Encoding.UTF8.GetString(corpus.Bytes, 0, 200_000);
        Assert.DoesNotContain("<summary>", text);
        Assert.Contains("Represents", text);
        Assert.DoesNotContain("T:System.", text);
    }
}
