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
/// so these tests run one after another: each holds several GB of tensors. They run where OPTDSL_LARGE_CHECKPOINT_TESTS
/// allows that size (<see cref="LargeCheckpointFactAttribute"/>): CI sets 2; the README's plain <c>dotnet test</c> skips them.
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
    /// The AdamW with 2.4 GB of random state and its checkpoint, made once for the class, on first use (xunit makes the
    /// fixture even when every test is skipped): making them takes most of the time of a test.
    /// </summary>
    public sealed class SavedPastTwoGiB : IDisposable
    {
        readonly Lazy<(string Folder, AdamW Optimizer, Parameter Parameter, string Path)> _made = new(() =>
        {
            var folder = Directory.CreateTempSubdirectory("optdsl-large-checkpoints-").FullName;
            var (optimizer, parameter) = WithRandomState(PastTwoGiB, seed: 1);
            var path = System.IO.Path.Combine(folder, "large.ckpt");
            optimizer.SaveCheckpoint(path);
            return (folder, optimizer, parameter, path);
        });

        public string Folder => _made.Value.Folder;
        public AdamW Optimizer => _made.Value.Optimizer;
        public Parameter Parameter => _made.Value.Parameter;
        public string Path => _made.Value.Path;

        public void Dispose()
        {
            if (!_made.IsValueCreated) return;
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

    [LargeCheckpointFact(2)]
    public void A_checkpoint_past_2_GiB_round_trips_bit_for_bit()
    {
        AssertLoadsBitForBit(saved.Optimizer, saved.Parameter, saved.Path, pastBytes: 2L << 30);
        Assert.Single(Directory.GetFiles(saved.Folder));
    }

    /// <summary>Needs about 10 GB of memory and 5 GB of disk: run with OPTDSL_LARGE_CHECKPOINT_TESTS=4.</summary>
    [LargeCheckpointFact(4)]
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

    [LargeCheckpointFact(2)]
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

/// <summary>
/// A test of a checkpoint past <c>gib</c> GiB, skipped unless OPTDSL_LARGE_CHECKPOINT_TESTS is at least that many GiB:
/// 2 (CI: about 5 GB of memory and 5 GB of disk, a minute on 2 cores) or 4 (also the 4.8 GB checkpoint: about 10 GB of
/// memory and 5 GB of disk).
/// </summary>
public sealed class LargeCheckpointFactAttribute : FactAttribute
{
    public const string Variable = "OPTDSL_LARGE_CHECKPOINT_TESTS";

    public LargeCheckpointFactAttribute(int gib)
    {
        if (!(int.TryParse(Environment.GetEnvironmentVariable(Variable), out var allowed) && allowed >= gib))
            Skip = $"a checkpoint past {gib} GiB takes several GB of memory and disk; set {Variable}={gib} to run it (CI sets 2)";
    }
}
