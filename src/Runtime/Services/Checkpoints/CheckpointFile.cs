using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The envelope of an optimizer checkpoint: a magic tag, a format version and a SHA-256 of everything before it;
/// written to a temporary file and renamed over the target, so a crash never leaves half a checkpoint.
/// </summary>
internal static class CheckpointFile
{
    static readonly byte[] Magic = Encoding.ASCII.GetBytes("OPTDSLCK");
    public const int Version = 1;
    const int HashBytes = 32;

    /// <summary>Writes <paramref name="body"/> into the envelope at <paramref name="path"/>, atomically.</summary>
    public static void Write(string path, Action<BinaryWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Version);
            body(writer);
        }
        var bytes = buffer.ToArray();
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.Write(bytes);
                file.Write(SHA256.HashData(bytes));
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            RemoveStale(full);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Deletes temporary files a killed process left beside <paramref name="full"/> (named with its process id);
    /// those of a process still running — another writer — stay.
    /// </summary>
    static void RemoveStale(string full)
    {
        var prefix = $".{Path.GetFileName(full)}.";
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(full)!, prefix + "*.tmp"))
        {
            var id = Path.GetFileName(file)[prefix.Length..^".tmp".Length];
            if (!int.TryParse(id, out int pid) || pid == Environment.ProcessId || Running(pid)) continue;
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // Gone already, or in use: either way not ours to insist on.
            }
        }
    }

    static bool Running(int pid)
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
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/>, lets <paramref name="stage"/> read and check all of it into new objects, checks
    /// nothing is left over, and only then runs the action it returned, which puts them in place.
    /// </summary>
    public static void Load(string path, Func<BinaryReader, Action> stage)
    {
        using var reader = Open(path);
        var commit = Staged(path, () =>
        {
            var staged = stage(reader);
            ExpectEnd(reader, path);
            return staged;
        });
        commit();
    }

    /// <summary>The tags that open a composed and a routed checkpoint; a plain optimizer's opens with its name.</summary>
    public const string ComposedTag = "OptDsl.ComposedOptimizer", RoutedTag = "OptDsl.RoutedOptimizer";

    /// <summary>Throws unless the checkpoint at <paramref name="path"/>, opening with <paramref name="found"/>, is of the <paramref name="expected"/> kind.</summary>
    public static void ExpectTag(string found, string expected, string path)
    {
        if (found == expected) return;
        static string Kind(string tag) => tag switch
        {
            ComposedTag => "a composed optimizer",
            RoutedTag => "a routed optimizer",
            _ => tag,
        };
        static string Loader(string tag) => tag switch
        {
            ComposedTag => "ComposedOptimizer.LoadCheckpoint",
            RoutedTag => "RoutedOptimizer.LoadCheckpoint",
            _ => $"{tag}.LoadCheckpoint",
        };
        throw new InvalidDataException($"{path} is a checkpoint of {Kind(found)}, not of {Kind(expected)}; load it with {Loader(found)}.");
    }

    /// <summary>Runs <paramref name="stage"/>, turning a short read into a clear message.</summary>
    public static Action Staged(string path, Func<Action> stage)
    {
        try
        {
            return stage();
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path} ends early: it is truncated or not from this optimizer.");
        }
    }

    /// <summary>Throws when data is left after what the optimizer read.</summary>
    public static void ExpectEnd(BinaryReader reader, string path)
    {
        if (reader.BaseStream.Position != reader.BaseStream.Length)
            throw new InvalidDataException($"{path} has unread data after the optimizer's state: it was written by another setup.");
    }

    /// <summary>
    /// Reads and checks the envelope of <paramref name="path"/>; returns a reader positioned at the body, or throws
    /// <see cref="InvalidDataException"/> saying what is wrong with the file.
    /// </summary>
    public static BinaryReader Open(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 4 + HashBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"{path} is not an OptDsl optimizer checkpoint.");
        var content = bytes.AsSpan(0, bytes.Length - HashBytes);
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashBytes)))
            throw new InvalidDataException($"{path} is corrupt: its checksum does not match its contents.");
        var reader = new BinaryReader(new MemoryStream(bytes, 0, content.Length, writable: false), Encoding.UTF8);
        reader.BaseStream.Position = Magic.Length;
        int version = reader.ReadInt32();
        if (version != Version)
            throw new InvalidDataException($"{path} has checkpoint format {version}; this OptDsl reads format {Version}.");
        return reader;
    }
}
