using System;
using System.IO.Hashing;
using System.Security.Cryptography;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The checksum that closes a checkpoint, by format: SHA-256 in format 1, XxHash128 from format 2 on. Either guards
/// against damage (a copy cut short, flipped bits), not against someone who rewrites the file, who could recompute
/// either; XxHash128 runs at memory speed, where SHA-256 on one core held a save or a load to about 1.5 GB/s.
/// </summary>
internal sealed class CheckpointChecksum : IDisposable
{
    /// <summary>The format this OptDsl writes, and the oldest it still reads.</summary>
    public const int Current = 2, Oldest = 1;

    readonly IncrementalHash? _sha256;
    readonly XxHash128? _xxHash128;

    /// <summary>The checksum of format <paramref name="version"/>, which must be one this OptDsl reads.</summary>
    public CheckpointChecksum(int version)
    {
        if (version == 1) _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        else _xxHash128 = new XxHash128();
    }

    /// <summary>Whether this OptDsl reads format <paramref name="version"/>.</summary>
    public static bool Reads(int version) => version is >= Oldest and <= Current;

    /// <summary>How many bytes the checksum of format <paramref name="version"/> takes at the end of the file.</summary>
    public static int BytesOf(int version) => version == 1 ? 32 : 16;

    /// <summary>What the checksum of format <paramref name="version"/> is called in messages.</summary>
    public static string NameOf(int version) => version == 1 ? "SHA-256" : "XxHash128";

    /// <summary>Adds <paramref name="data"/> to what the checksum covers.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_sha256 is not null) _sha256.AppendData(data);
        else _xxHash128!.Append(data);
    }

    /// <summary>The checksum of everything appended.</summary>
    public byte[] Finish() => _sha256?.GetHashAndReset() ?? _xxHash128!.GetHashAndReset();

    /// <inheritdoc/>
    public void Dispose() => _sha256?.Dispose();
}
