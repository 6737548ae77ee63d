using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.IO.Hashing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// Save and load throughput of an AdamW checkpoint against a plain <see cref="File.Copy(string, string, bool)"/> of a file
/// of the same size (the checkpoint itself), measured in turn in one process, round after round; prints each round
/// and the medians. Beside them, for reading the figures: the copy flushed to disk (a save flushes its file), one
/// streamed XxHash128 pass over the file (a load makes one before staging), filling fresh memory of the state's size
/// (a load stages the state in new tensors), and the state's bytes written to a new file and flushed (the least any
/// save does).
/// </summary>
static class Throughput
{
    public static void Run(long elements, string folder, int rounds)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "throughput.ckpt");
        Console.WriteLine($"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30):F1} GiB of memory; "
            + $"AdamW over {elements:N0} float32 elements, m and v random; {rounds} rounds in {folder}");

        var (parameter, source) = FilledAdamW(elements);
        using var _ = source;
        var state = source.StateOf(parameter);

        var columns = new[] { "save", "load", "File.Copy", "copy+flush", "write+flush", "checksum pass", "fill memory" };
        var rates = columns.ToDictionary(c => c, _ => new List<double>());
        var (saveToCopy, loadToCopy, saveToFlushedCopy, saveToWrite) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        long bytes = 0;
        for (int round = 1; round <= rounds; round++)
        {
            double save = Seconds(() => source.SaveCheckpoint(path));
            bytes = new FileInfo(path).Length;
            var copy = Path.Combine(folder, "throughput.copy");
            double fileCopy = Seconds(() => File.Copy(path, copy));
            double flush = Seconds(() =>
            {
                using var written = new FileStream(copy, FileMode.Open, FileAccess.ReadWrite);
                written.Flush(flushToDisk: true);
            });
            File.Delete(copy);
            double write = Seconds(() => WriteAndFlush(copy, state.M, state.V));
            File.Delete(copy);
            double load = Seconds(() =>
            {
                using var loaded = new OptDsl.Optimizers.AdamW(new[] { parameter });
                loaded.LoadCheckpoint(path);
            });
            double hash = Seconds(() =>
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 22);
                var checksum = new XxHash128();
                checksum.Append(file);
                checksum.GetHashAndReset();
            });
            double fill = Seconds(() =>
            {
                using var fresh = torch.ones(2 * elements);
            });
            var seconds = new[] { save, load, fileCopy, fileCopy + flush, write, hash, fill };
            for (int c = 0; c < columns.Length; c++) rates[columns[c]].Add(bytes / seconds[c] / 1e6);
            saveToCopy.Add(fileCopy / save);
            loadToCopy.Add(fileCopy / load);
            saveToFlushedCopy.Add((fileCopy + flush) / save);
            saveToWrite.Add(write / save);
            Console.WriteLine($"round {round}: " + string.Join(", ", columns.Select((c, k) => $"{c} {rates[c][^1]:F0} MB/s")));
        }
        File.Delete(path);
        if (!Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);

        static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        Console.WriteLine($"{bytes:N0} bytes ({bytes / (double)(1L << 30):F2} GiB), median MB/s: "
            + string.Join(", ", columns.Select(c => $"{c} {Median(rates[c]):F0}")));
        Console.WriteLine($"median of the rounds' ratios: save / File.Copy {Median(saveToCopy):F2}x, load / File.Copy {Median(loadToCopy):F2}x, "
            + $"save / copy+flush {Median(saveToFlushedCopy):F2}x, save / write+flush {Median(saveToWrite):F2}x");
    }

    /// <summary>
    /// An AdamW over one parameter of <paramref name="elements"/> float32 elements, its state filled directly with random
    /// values (uninitialised parameter, no gradient): a step would add nothing to what is measured.
    /// </summary>
    static (Parameter Parameter, OptDsl.Optimizers.AdamW Optimizer) FilledAdamW(long elements)
    {
        var parameter = new Parameter(torch.empty(elements));
        var optimizer = new OptDsl.Optimizers.AdamW(new[] { parameter });
        var state = optimizer.StateOf(parameter);
        state.AllocateMissing(optimizer.OptionsOf(0));
        state.M.uniform_(-1, 1, new torch.Generator(1));
        state.V.uniform_(0, 1, new torch.Generator(2));
        return (parameter, optimizer);
    }

    /// <summary>
    /// Saves alone, round after round, each followed by a bare write and flush of the same state's bytes to another
    /// file: nothing else (no load, no fresh memory) runs between them, as in a training loop that saves now and then.
    /// </summary>
    public static void SavesAlone(long elements, string folder, int rounds)
    {
        Directory.CreateDirectory(folder);
        var (path, bare) = (Path.Combine(folder, "saves.ckpt"), Path.Combine(folder, "saves.bare"));
        var (parameter, source) = FilledAdamW(elements);
        using var _ = source;
        var state = source.StateOf(parameter);
        var ratios = new List<double>();
        for (int round = 1; round <= rounds; round++)
        {
            double save = Seconds(() => source.SaveCheckpoint(path));
            double write = Seconds(() => WriteAndFlush(bare, state.M, state.V));
            long bytes = new FileInfo(path).Length;
            ratios.Add(write / save);
            Console.WriteLine($"round {round}: save {bytes / save / 1e6:F0} MB/s, write+flush {bytes / write / 1e6:F0} MB/s, save / write+flush {write / save:F2}x");
        }
        File.Delete(path);
        File.Delete(bare);
        Console.WriteLine($"median save / write+flush: {ratios.Order().ElementAt(ratios.Count / 2):F2}x over {rounds} rounds");
    }

    /// <summary>
    /// The least any save of this state does: the tensors' bytes written from their memory into a new file, which is
    /// then flushed to disk — no header, no checksum, no rename.
    /// </summary>
    static void WriteAndFlush(string path, params Tensor[] tensors)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        const long Piece = 1 << 18; // elements: 1 MiB of float32, the size of a save's writes
        foreach (var tensor in tensors)
            for (long at = 0; at < tensor.NumberOfElements; at += Piece)
            {
                using var piece = tensor.narrow(0, at, Math.Min(Piece, tensor.NumberOfElements - at));
                file.Write(piece.bytes);
            }
        file.Flush(flushToDisk: true);
    }

    static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }
}
