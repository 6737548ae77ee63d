using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Adam = OptDsl.Optimizers.Adam;
using AdamW = OptDsl.Optimizers.AdamW;
using NAdam = OptDsl.Optimizers.NAdam;

namespace OptDsl.Tests.Runtime;

/// <summary>Versioned, checksummed checkpoints: exact resume, and refusal of anything that does not fit — before any change.</summary>
public sealed class CheckpointFileTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static NAdam Scheduled(TorchSharp.Modules.Parameter[] parameters, UpdateBackend backend)
    {
        var opt = new NAdam(parameters, lr: 0.01, weightDecay: 0.01) { Backend = backend };
        opt.Schedule("lr", Schedules.Wsd(totalSteps: 20, warmupSteps: 4, decayFraction: 0.3, peak: 0.01));
        opt.Schedule("beta2", Schedules.Linear(0.95, 0.999, 10));
        return opt;
    }

    [Theory]
    [InlineData(UpdateBackend.Portable)]
    [InlineData(UpdateBackend.Fused)]
    public void Resuming_from_a_checkpoint_repeats_the_uninterrupted_run_bit_for_bit(UpdateBackend backend)
    {
        var straight = TestData.Parameters(ScalarType.Float32);
        var uninterrupted = Scheduled(straight, backend);
        for (int step = 1; step <= 16; step++)
        {
            TestData.SetGradients(straight, step);
            uninterrupted.step();
        }

        var first = TestData.Parameters(ScalarType.Float32);
        var before = Scheduled(first, backend);
        for (int step = 1; step <= 7; step++)
        {
            TestData.SetGradients(first, step);
            before.step();
        }
        var path = Path.Combine(_folder, "nadam.ckpt");
        before.SaveCheckpoint(path);

        // A fresh optimizer over copies of the parameters as they were saved, set up differently on purpose.
        var resumed = first.Select(p => new TorchSharp.Modules.Parameter(p.detach().clone())).ToArray();
        var after = Scheduled(resumed, backend);
        after.OptionsOf(0)["momentumDecay"] = 0.5;
        after.LoadCheckpoint(path);
        Assert.Equal(7, after.StepCount);
        for (int step = 8; step <= 16; step++)
        {
            TestData.SetGradients(resumed, step);
            after.step();
        }

        for (int k = 0; k < straight.Length; k++) Assert.True(TestData.Identical(resumed[k], straight[k]), $"parameter {k}");
        for (int k = 0; k < straight.Length; k++)
            Assert.True(after.StateOf(resumed[k]).ApproximatelyEquals(uninterrupted.StateOf(straight[k])), $"state {k}");
        Assert.Equal(uninterrupted.OptionsOf(0).LearningRate, after.OptionsOf(0).LearningRate);
    }

    AdamW SavedAfterTwoSteps(out string path, out TorchSharp.Modules.Parameter[] parameters)
    {
        parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new AdamW(parameters, lr: 0.01, amsgrad: true);
        for (int step = 1; step <= 2; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
        }
        path = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".ckpt");
        opt.SaveCheckpoint(path);
        return opt;
    }

    static void AssertRefusedWithoutChange(AdamW target, TorchSharp.Modules.Parameter[] parameters, string path, string expected)
    {
        var m = target.StateOf(parameters[0]).M.clone();
        var lr = target.OptionsOf(0).LearningRate;
        long steps = target.StateOf(parameters[0]).Step, count = target.StepCount;
        var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(path));
        Assert.Contains(expected, e.Message);
        Assert.True(TestData.Identical(target.StateOf(parameters[0]).M, m));
        Assert.Equal(lr, target.OptionsOf(0).LearningRate);
        Assert.Equal(steps, target.StateOf(parameters[0]).Step);
        Assert.Equal(count, target.StepCount);
    }

    static (AdamW Optimizer, TorchSharp.Modules.Parameter[] Parameters) Stepped(double lr = 0.5)
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var opt = new AdamW(parameters, lr: lr);
        TestData.SetGradients(parameters, 5);
        opt.step();
        return (opt, parameters);
    }

    [Fact]
    public void A_corrupt_checkpoint_is_refused_by_its_checksum()
    {
        SavedAfterTwoSteps(out var path, out _);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path, "checksum");
    }

    [Fact]
    public void A_truncated_checkpoint_is_refused_as_corrupt_or_truncated_with_its_length()
    {
        SavedAfterTwoSteps(out var path, out _);
        File.WriteAllBytes(path, File.ReadAllBytes(path).Take(200).ToArray());
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path, "is corrupt or truncated: the XxHash128 checksum in its last 16 bytes does not match the 184 bytes before them (200 bytes in all)");
    }

    [Theory]
    [InlineData(27)]
    [InlineData(12)]
    [InlineData(5)]
    public void A_checkpoint_cut_short_of_its_envelope_is_refused_as_truncated_not_as_another_file(int keep)
    {
        SavedAfterTwoSteps(out var path, out _);
        File.WriteAllBytes(path, File.ReadAllBytes(path).Take(keep).ToArray());
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path,
            $"is truncated: it has {keep} bytes and opens as an OptDsl checkpoint, but every checkpoint of format 2 has at least 28 " +
            "(a 12-byte header and a 16-byte XxHash128 checksum at the end)");
    }

    [Fact]
    public void An_empty_file_is_refused_as_empty()
    {
        var path = Path.Combine(_folder, "empty.ckpt");
        File.WriteAllBytes(path, Array.Empty<byte>());
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path, "is empty (0 bytes), not an OptDsl optimizer checkpoint");
    }

    [Fact]
    public void A_file_that_is_not_a_checkpoint_is_refused()
    {
        var path = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(path, "these are not optimizer states, just some text long enough to look like a file");
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path, "not an OptDsl optimizer checkpoint");
    }

    [Fact]
    public void A_checkpoint_of_another_optimizer_is_refused()
    {
        var parameters = TestData.Parameters(ScalarType.Float32);
        var adam = new Adam(parameters);
        var path = Path.Combine(_folder, "adam.ckpt");
        adam.SaveCheckpoint(path);
        var (target, targetParameters) = Stepped();
        AssertRefusedWithoutChange(target, targetParameters, path, "is a checkpoint of Adam; this optimizer is AdamW");
    }

    [Fact]
    public void A_checkpoint_of_other_parameter_shapes_is_refused()
    {
        SavedAfterTwoSteps(out var path, out _);
        var parameters = TestData.Parameters(ScalarType.Float32);
        parameters[3] = new TorchSharp.Modules.Parameter(torch.zeros(60));
        var target = new AdamW(parameters, lr: 0.5);
        TestData.SetGradients(parameters.Take(3).ToArray(), 1);
        using (torch.no_grad()) parameters[3].grad = torch.ones(60);
        target.step();
        AssertRefusedWithoutChange(target, parameters, path, "has shape [4, 3, 5] there and [60] here");
    }

    [Fact]
    public void Saving_replaces_the_file_whole_and_leaves_no_temporary_behind()
    {
        var opt = SavedAfterTwoSteps(out var path, out var parameters);
        TestData.SetGradients(parameters, 3);
        opt.step();
        opt.SaveCheckpoint(path);
        Assert.Single(Directory.GetFiles(_folder));
        var (target, _) = Stepped();
        target.LoadCheckpoint(path);
        Assert.Equal(3, target.StepCount);
    }

    [Fact]
    public void A_checkpoint_of_another_format_version_is_refused()
    {
        SavedAfterTwoSteps(out var path, out _);
        var bytes = File.ReadAllBytes(path);
        // Format 3 in the header, with a checksum that matches: only the version is wrong.
        BitConverter.GetBytes(3).CopyTo(bytes, 8);
        System.IO.Hashing.XxHash128.Hash(bytes.AsSpan(0, bytes.Length - 16)).CopyTo(bytes, bytes.Length - 16);
        File.WriteAllBytes(path, bytes);
        var (target, parameters) = Stepped();
        AssertRefusedWithoutChange(target, parameters, path, "has checkpoint format 3; this OptDsl reads formats 1 to 2");
    }

    /// <summary>The content of a checkpoint of <paramref name="opt"/>: the tag, <paramref name="format"/>, the body.</summary>
    static byte[] Content(AdamW opt, int format)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("OPTDSLCK"u8);
            writer.Write(format);
            opt.WriteCheckpoint(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Saving streams; the file must still be what an in-memory writer makes — tag, format 2, body, then the XxHash128
    /// (big-endian, as System.IO.Hashing gives it) of all before it.
    /// </summary>
    [Fact]
    public void A_streamed_checkpoint_is_byte_for_byte_the_tag_the_format_the_body_and_its_XxHash128()
    {
        var opt = SavedAfterTwoSteps(out var path, out _);
        var content = Content(opt, 2);
        Assert.Equal(content.Concat(System.IO.Hashing.XxHash128.Hash(content)), File.ReadAllBytes(path));
    }

    /// <summary>
    /// Checkpoints of format 1 (the body of format 2, closed by a SHA-256), written before XxHash128 replaced it, still
    /// load, bit for bit; and a damaged one is refused by its SHA-256.
    /// </summary>
    [Fact]
    public void A_checkpoint_of_format_1_with_its_SHA_256_still_loads_and_is_still_checked()
    {
        var opt = SavedAfterTwoSteps(out var path, out var saved);
        var content = Content(opt, 1);
        File.WriteAllBytes(path, content.Concat(System.Security.Cryptography.SHA256.HashData(content)).ToArray());
        var (target, parameters) = Stepped();
        target.LoadCheckpoint(path);
        Assert.Equal(opt.StepCount, target.StepCount);
        for (int i = 0; i < saved.Length; i++)
        {
            var (expected, actual) = (opt.StateOf(saved[i]), target.StateOf(parameters[i]));
            Assert.True(TestData.Identical(expected.M, actual.M) && TestData.Identical(expected.V, actual.V), $"state of parameter {i}");
        }

        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var (other, otherParameters) = Stepped();
        AssertRefusedWithoutChange(other, otherParameters, path, "the SHA-256 checksum in its last 32 bytes does not match");
    }

    /// <summary>
    /// Two threads save two optimizers (at steps 1 and 2, 4M elements each, so the writes overlap) to one path at the
    /// same moment, round after round: both saves succeed, no temporary file stays, and the file is the whole
    /// checkpoint of one of them.
    /// </summary>
    [Fact]
    public void Two_threads_saving_to_one_path_at_once_both_succeed_and_leave_one_whole_checkpoint()
    {
        var path = Path.Combine(_folder, "shared.ckpt");
        var parameters = new[] { new TorchSharp.Modules.Parameter(torch.zeros(4_000_000)), new TorchSharp.Modules.Parameter(torch.zeros(4_000_000)) };
        var optimizers = new AdamW[2];
        for (int k = 0; k < 2; k++)
        {
            optimizers[k] = new AdamW(new[] { parameters[k] });
            for (int step = 0; step <= k; step++)
            {
                using var g = torch.randn(new long[] { 4_000_000 }, ScalarType.Float32, generator: new torch.Generator((ulong)(10 * k + step)));
                parameters[k].grad = g;
                optimizers[k].step();
            }
        }
        for (int round = 0; round < 8; round++)
        {
            using var start = new System.Threading.Barrier(2);
            var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
            var threads = optimizers.Select(opt => new System.Threading.Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    opt.SaveCheckpoint(path);
                }
                catch (Exception e)
                {
                    errors.Add(e);
                }
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            Assert.Empty(errors);
            Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));

            var parameter = new TorchSharp.Modules.Parameter(torch.zeros(4_000_000));
            using var reader = new AdamW(new[] { parameter });
            reader.LoadCheckpoint(path);
            Assert.InRange(reader.StepCount, 1, 2);
            var source = optimizers[reader.StepCount - 1].StateOf(parameters[reader.StepCount - 1]);
            Assert.True(TestData.Identical(reader.StateOf(parameter).M, source.M), $"round {round}: m");
            Assert.True(TestData.Identical(reader.StateOf(parameter).V, source.V), $"round {round}: v");
        }
    }

    /// <summary>
    /// A child process saves checkpoints of 4M-element AdamW state in a loop and is killed during a save, again and
    /// again: in odd trials a few milliseconds after it announces the save (mostly while it serialises), in even
    /// trials the moment its temporary file appears (while it writes the file). Whatever the moment, the checkpoint
    /// on disk must load whole, at the step of the last completed save or of the one under way.
    /// </summary>
    [Fact]
    public void A_process_killed_while_saving_leaves_the_previous_checkpoint_intact()
    {
        var path = Path.Combine(_folder, "killed.ckpt");
        var random = new Random(12345);
        int midWrite = 0;
        for (int trial = 0; trial < 6; trial++)
        {
            foreach (var stale in Directory.GetFiles(_folder, "*.tmp")) File.Delete(stale);
            using var child = StartWriter(path);
            long saved = 0, writing = 0;
            // Let it finish at least one save, then kill it during a later one.
            while (child.StandardOutput.ReadLine() is { } line)
            {
                var parts = line.Split(' ');
                long n = long.Parse(parts[1]);
                if (parts[0] == "saved") saved = n;
                else if (saved >= 1 + trial % 2)
                {
                    writing = n;
                    if (trial % 2 == 1) System.Threading.Thread.Sleep(random.Next(0, 25));
                    else
                    {
                        var clock = System.Diagnostics.Stopwatch.StartNew();
                        while (Directory.GetFiles(_folder, "*.tmp").Length == 0 && clock.ElapsedMilliseconds < 5000) { }
                    }
                    break;
                }
            }
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            Assert.True(writing > 0, "the writer stopped before a save");
            if (Directory.GetFiles(_folder, "*.tmp").Length > 0) midWrite++;

            var parameter = new TorchSharp.Modules.Parameter(torch.zeros(4_000_000));
            using var reader = new AdamW(new[] { parameter });
            reader.LoadCheckpoint(path);
            Assert.True(reader.StepCount == writing - 1 || reader.StepCount == writing,
                $"trial {trial}: the checkpoint is at step {reader.StepCount}; saves {writing - 1} and {writing} were the candidates");
        }
        Assert.True(midWrite > 0, "no kill landed during a file write; the test did not test what it should");
    }

    [Fact]
    public void Saving_removes_temporary_files_left_by_killed_writers_but_not_by_running_ones()
    {
        var opt = SavedAfterTwoSteps(out var path, out _);
        var name = Path.GetFileName(path);
        int dead = Enumerable.Range(900_000, 1000).First(pid => !IsRunning(pid));
        // Named as this version names them (process id, then the save's number) and as earlier ones did.
        var stale = new[] { $".{name}.{dead}-7.tmp", $".{name}.{dead}.tmp" }.Select(f => Path.Combine(_folder, f)).ToArray();
        var live = new[] { $".{name}.1-3.tmp", $".{name}.1.tmp" }.Select(f => Path.Combine(_folder, f)).ToArray(); // process 1 always runs
        foreach (var f in stale) File.WriteAllText(f, "half a checkpoint");
        foreach (var f in live) File.WriteAllText(f, "another writer's half");
        opt.SaveCheckpoint(path);
        Assert.All(stale, f => Assert.False(File.Exists(f)));
        Assert.All(live, f => Assert.True(File.Exists(f) || !OperatingSystem.IsLinux()));
        foreach (var f in live) File.Delete(f);
    }

    static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    static System.Diagnostics.Process StartWriter(string path)
    {
        var folder = AppContext.BaseDirectory;
        var apphost = Path.Combine(folder, OperatingSystem.IsWindows() ? "CheckpointWriter.exe" : "CheckpointWriter");
        var start = File.Exists(apphost)
            ? new System.Diagnostics.ProcessStartInfo(apphost)
            : new System.Diagnostics.ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { ArgumentList = { Path.Combine(folder, "CheckpointWriter.dll") } };
        start.ArgumentList.Add(path);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.Environment["OPTDSL_QUIET"] = "1";
        return System.Diagnostics.Process.Start(start)!;
    }
}
