using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The envelope of an optimizer checkpoint: a magic tag, a format version and a checksum of everything before it;
/// written to a temporary file and renamed over the target, so a crash never leaves half a checkpoint. Both ways
/// stream: a checkpoint may be larger than memory holds twice (or than a .NET array holds at all).
/// </summary>
internal static class CheckpointFile
{
    static readonly byte[] Magic = Encoding.ASCII.GetBytes("OPTDSLCK");
    /// <summary>The format this OptDsl writes (<see cref="CheckpointChecksum"/> says which it reads).</summary>
    public const int Version = CheckpointChecksum.Current;

    /// <summary>
    /// Writes <paramref name="body"/> into the envelope at <paramref name="path"/>, atomically: the content streams
    /// through the hash (on a thread of its own) into a temporary file of this save's own, flushed to disk and renamed
    /// over the path. Memory stays at a few blocks whatever the size. Saves to one path from several threads or
    /// processes at once each succeed, and the file is the whole checkpoint of the one renamed last.
    /// </summary>
    public static void Write(string path, Action<BinaryWriter> body)
    {
        var full = Path.GetFullPath(path);
        var temp = TemporaryName(full);
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                using (var content = new HashingWriteStream(file))
                {
                    using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
                    {
                        writer.Write(Magic);
                        writer.Write(Version);
                        body(writer);
                    }
                    file.Write(content.Complete());
                }
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

    static int s_saves;

    /// <summary>
    /// <c>.name.pid-n.tmp</c> beside <paramref name="full"/>: the process id tells a killed writer's leftovers from a
    /// running one's (<see cref="RemoveStale"/>), the number tells apart the saves of one process running at once.
    /// </summary>
    static string TemporaryName(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}-{Interlocked.Increment(ref s_saves)}.tmp");

    /// <summary>
    /// Deletes temporary files a killed process left beside <paramref name="full"/> (named with its process id, and by
    /// earlier versions with nothing after it); those of a process still running — another writer — stay.
    /// </summary>
    static void RemoveStale(string full)
    {
        var prefix = $".{Path.GetFileName(full)}.";
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(full)!, prefix + "*.tmp"))
        {
            var id = Path.GetFileName(file)[prefix.Length..^".tmp".Length];
            int dash = id.IndexOf('-');
            if (dash >= 0 && !IsCount(id[(dash + 1)..], out _)) continue;
            if (!IsCount(dash >= 0 ? id[..dash] : id, out int pid) || pid == Environment.ProcessId || Running(pid)) continue;
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

    static bool IsCount(string text, out int value) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

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
    /// Reads and checks the envelope of <paramref name="path"/> — the tag, the format version, then the checksum over
    /// everything before it in one streaming pass — and returns a reader positioned at the body, which reads the same
    /// open file a second time; or throws <see cref="InvalidDataException"/> saying what is wrong with the file.
    /// Memory stays at a few MiB whatever the size.
    /// </summary>
    public static BinaryReader Open(string path)
    {
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        try
        {
            long length = RandomAccess.GetLength(file);
            Span<byte> head = stackalloc byte[HeadBytes];
            int headRead = RandomAccess.Read(file, head, 0);
            int version = CheckHead(path, length, head[..headRead]);
            int hashBytes = CheckpointChecksum.BytesOf(version);
            long content = length - hashBytes;
            if (!ChecksumMatches(file, content, version))
                throw new InvalidDataException(
                    $"{path} is corrupt or truncated: the {CheckpointChecksum.NameOf(version)} checksum in its last {hashBytes} bytes " +
                    $"does not match the {content} bytes before them ({length} bytes in all). A copy cut short or bytes changed since it was saved.");
            return new BinaryReader(new CheckedContentStream(file, HeadBytes, content), Encoding.UTF8);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tag and the format version.</summary>
    static int HeadBytes => Magic.Length + 4;

    /// <summary>
    /// Returns the format version of the file, of <paramref name="length"/> bytes opening with <paramref name="head"/>
    /// (its first bytes, up to the tag and the version), or throws unless it can be a checkpoint this OptDsl reads: a
    /// file that opens with the tag, or with the start of it, but is too short for the envelope is one cut short, and
    /// says so.
    /// </summary>
    static int CheckHead(string path, long length, ReadOnlySpan<byte> head)
    {
        if (length == 0)
            throw new InvalidDataException($"{path} is empty (0 bytes), not an OptDsl optimizer checkpoint.");
        int tagBytes = Math.Min(head.Length, Magic.Length);
        if (!head[..tagBytes].SequenceEqual(Magic.AsSpan(0, tagBytes)))
            throw new InvalidDataException($"{path} is not an OptDsl optimizer checkpoint.");
        if (head.Length < HeadBytes) throw Truncated(path, length, Version);
        int version = BinaryPrimitives.ReadInt32LittleEndian(head[Magic.Length..]);
        if (!CheckpointChecksum.Reads(version))
            throw new InvalidDataException(
                $"{path} has checkpoint format {version}; this OptDsl reads formats {CheckpointChecksum.Oldest} to {CheckpointChecksum.Current} " +
                "(a newer OptDsl wrote it, or its header is damaged).");
        if (length < HeadBytes + CheckpointChecksum.BytesOf(version)) throw Truncated(path, length, version);
        return version;
    }

    static InvalidDataException Truncated(string path, long length, int version)
    {
        int hashBytes = CheckpointChecksum.BytesOf(version), smallest = HeadBytes + hashBytes;
        return new InvalidDataException(
            $"{path} is truncated: it has {length} bytes and opens as an OptDsl checkpoint, but every checkpoint of format " +
            $"{version} has at least {smallest} (a {HeadBytes}-byte header and a {hashBytes}-byte {CheckpointChecksum.NameOf(version)} checksum at the end).");
    }

    /// <summary>Whether the checksum of format <paramref name="version"/> over the first <paramref name="content"/> bytes of <paramref name="file"/> is the one stored after them.</summary>
    static bool ChecksumMatches(SafeFileHandle file, long content, int version)
    {
        var block = ArrayPool<byte>.Shared.Rent(4 << 20);
        try
        {
            using var checksum = new CheckpointChecksum(version);
            for (long at = 0; at < content;)
            {
                int n = RandomAccess.Read(file, block.AsSpan(0, (int)Math.Min(block.Length, content - at)), at);
                if (n == 0) return false;
                checksum.Append(block.AsSpan(0, n));
                at += n;
            }
            Span<byte> stored = stackalloc byte[CheckpointChecksum.BytesOf(version)];
            return RandomAccess.Read(file, stored, content) == stored.Length && checksum.Finish().AsSpan().SequenceEqual(stored);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }
}
