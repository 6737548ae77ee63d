using System;
using System.IO;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Checkpoints larger than a .NET array or a <see cref="MemoryStream"/> holds (2 GiB), streamed both ways. One class,
/// so these tests run one after another: each holds several GB of tensors.
/// </summary>
public sealed class LargeCheckpointTests(LargeCheckpointTests.SavedPastTwoGiB saved) : IClassFixture<LargeCheckpointTests.SavedPastTwoGiB>
{
    /// <summary>AdamW keeps m and v: 2 × 4 × 300M bytes, 2.4 GB (2.24 GiB) of state.</summary>
    const long PastTwoGiB = 300_000_000;

    /// <summary>2 × 4 × 600M bytes, 4.8 GB (4.47 GiB) of state.</summary>
    const long PastFourGiB = 600_000_000;

    /// <summary>
    /// An AdamW over a parameter of <paramref name="elements"/> whose state is random, as if it had stepped. The state is
    /// allocated and filled directly: a step would need a gradient (as large again) and the parameter's values, and on
    /// the 2-core CI machine fresh memory costs about 5 s per GB to touch. The parameter is never read, so it stays
    /// uninitialised and takes no memory.
    /// </summary>
    static (AdamW Optimizer, Parameter Parameter) WithRandomState(long elements, ulong seed)
    {
        var parameter = new Parameter(torch.empty(elements));
        var opt = new AdamW(new[] { parameter }, lr: 1e-3);
        var state = opt.StateOf(parameter);
        state.AllocateMissing(opt.OptionsOf(0));
        state.M.uniform_(-1, 1, new torch.Generator(seed));
        state.V.uniform_(0, 1, new torch.Generator(seed + 1));
        state.Step = 3;
        return (opt, parameter);
    }

    /// <summary>
    /// The AdamW with 2.4 GB of random state and its checkpoint, made once for the class: making them takes most of the
    /// time of a test.
    /// </summary>
    public sealed class SavedPastTwoGiB : IDisposable
    {
        public string Folder { get; } = Directory.CreateTempSubdirectory("optdsl-large-checkpoints-").FullName;
        public AdamW Optimizer { get; }
        public Parameter Parameter { get; }
        public string Path { get; }

        public SavedPastTwoGiB()
        {
            (Optimizer, Parameter) = WithRandomState(PastTwoGiB, seed: 1);
            Path = System.IO.Path.Combine(Folder, "large.ckpt");
            Optimizer.SaveCheckpoint(Path);
        }

        public void Dispose()
        {
            Optimizer.Dispose();
            Directory.Delete(Folder, recursive: true);
        }
    }

    /// <summary>Whether two float32 tensors hold the same bits, compared a slice at a time without allocating.</summary>
    static bool BitIdentical(Tensor a, Tensor b)
    {
        if (!a.shape.AsSpan().SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var x = a.reshape(-1);
        using var y = b.reshape(-1);
        const long slice = 1L << 28;
        for (long at = 0; at < x.shape[0]; at += slice)
        {
            long n = Math.Min(slice, x.shape[0] - at);
            using var xs = x.narrow(0, at, n);
            using var ys = y.narrow(0, at, n);
            if (!xs.bytes.SequenceEqual(ys.bytes)) return false;
        }
        return true;
    }

    /// <summary>Loads <paramref name="path"/> into a second optimizer over the same parameter, set up otherwise, and compares.</summary>
    static void AssertLoadsBitForBit(AdamW source, Parameter parameter, string path, long pastBytes)
    {
        Assert.True(new FileInfo(path).Length > pastBytes);
        using var loaded = new AdamW(new[] { parameter }, lr: 0.5);
        loaded.LoadCheckpoint(path);
        var (e, a) = (source.StateOf(parameter), loaded.StateOf(parameter));
        Assert.Equal(3, a.Step);
        Assert.True(BitIdentical(e.M, a.M), "m differs");
        Assert.True(BitIdentical(e.V, a.V), "v differs");
        Assert.Equal(source.OptionsOf(0).LearningRate, loaded.OptionsOf(0).LearningRate);
    }

    [Fact]
    public void A_checkpoint_past_2_GiB_round_trips_bit_for_bit()
    {
        AssertLoadsBitForBit(saved.Optimizer, saved.Parameter, saved.Path, pastBytes: 2L << 30);
        Assert.Single(Directory.GetFiles(saved.Folder));
    }

    /// <summary>Needs about 10 GB of memory and 5 GB of disk: run with OPTDSL_LARGE_CHECKPOINT_TESTS=1.</summary>
    [LargeCheckpointFact]
    public void A_checkpoint_past_4_GiB_round_trips_bit_for_bit()
    {
        var folder = Directory.CreateTempSubdirectory("optdsl-larger-checkpoints-").FullName;
        try
        {
            var path = Path.Combine(folder, "larger.ckpt");
            var (source, parameter) = WithRandomState(PastFourGiB, seed: 3);
            using (source)
            {
                source.SaveCheckpoint(path);
                AssertLoadsBitForBit(source, parameter, path, pastBytes: 4L << 30);
            }
            Assert.Single(Directory.GetFiles(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_corrupt_or_truncated_checkpoint_past_2_GiB_is_refused_with_nothing_changed()
    {
        var path = Path.Combine(saved.Folder, "damaged.ckpt");
        File.Copy(saved.Path, path);
        long length = new FileInfo(path).Length;
        try
        {
            // An optimizer over the same parameter, not stepped yet: any part of the file put in place would show.
            using var target = new AdamW(new[] { saved.Parameter }, lr: 0.5);
            void AssertRefused(string expected)
            {
                var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(path));
                Assert.Contains(expected, e.Message);
                var state = target.StateOf(saved.Parameter);
                Assert.All(state.Tensors, Assert.Null);
                Assert.Equal(0, state.Step);
                Assert.Equal(0, target.StepCount);
                Assert.Equal(0.5, target.OptionsOf(0).LearningRate);
            }

            // One bit flipped in v, past the first 2 GiB.
            using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                file.Position = length - 1000;
                int b = file.ReadByte();
                file.Position = length - 1000;
                file.WriteByte((byte)(b ^ 0x10));
            }
            AssertRefused("checksum");

            // The last megabyte gone, as a copy cut short would leave it.
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write)) file.SetLength(length - (1 << 20));
            AssertRefused("checksum");
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>A test that needs about 10 GB of memory and 5 GB of disk: skipped unless OPTDSL_LARGE_CHECKPOINT_TESTS is 1.</summary>
public sealed class LargeCheckpointFactAttribute : FactAttribute
{
    public LargeCheckpointFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("OPTDSL_LARGE_CHECKPOINT_TESTS") != "1")
            Skip = "a checkpoint past 4 GiB needs about 10 GB of memory and 5 GB of disk; set OPTDSL_LARGE_CHECKPOINT_TESTS=1 to run it";
    }
}
