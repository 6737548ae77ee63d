using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The content of a checkpoint on its way to the file, gathered into blocks of 1 MiB: each full block is written, then
/// hashed (SHA-256) on a thread of its own while the next one fills and is written, so hashing costs little time
/// beside the writes and a checkpoint of any size needs a few blocks of memory. (TorchSharp writes a tensor's bytes a
/// kilobyte at a time; the blocks turn those into large writes.) A checkpoint smaller than a block starts no thread.
/// </summary>
internal sealed class HashingWriteStream : Stream
{
    /// <summary>1 MiB: a write and a hand-over per block cost nothing beside its bytes.</summary>
    const int BlockBytes = 1 << 20;

    /// <summary>Blocks waiting for the hash at most; the writer waits when the hash is that far behind.</summary>
    const int Queued = 4;

    readonly Stream _file;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly List<byte[]> _rented = new();
    byte[]? _block;
    int _filled;
    long _written;
    bool _completed;

    // Started at the first full block: the blocks to hash, in order, and those hashed, to fill again.
    BlockingCollection<(byte[] Block, int Length)>? _toHash;
    BlockingCollection<byte[]>? _hashed;
    Task? _hasher;
    volatile Exception? _hashFailure;

    /// <summary>Writes into <paramref name="file"/>, which stays the caller's to close.</summary>
    public HashingWriteStream(Stream file)
    {
        _file = file;
        _block = Rent();
    }

    byte[] Rent()
    {
        var block = ArrayPool<byte>.Shared.Rent(BlockBytes);
        _rented.Add(block);
        return block;
    }

    /// <summary>Writes what is gathered and returns the SHA-256 of everything written; nothing may be written after.</summary>
    public byte[] Complete()
    {
        var block = _block ?? throw new ObjectDisposedException(nameof(HashingWriteStream));
        _file.Write(block, 0, _filled);
        if (_hasher is { } hasher)
        {
            _toHash!.Add((block, _filled));
            _toHash.CompleteAdding();
            hasher.Wait();
            if (_hashFailure is { } failure) ExceptionDispatchInfo.Throw(failure);
        }
        else _hash.AppendData(block, 0, _filled);
        _block = null;
        _completed = true;
        return _hash.GetHashAndReset();
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var block = _block ?? throw new ObjectDisposedException(nameof(HashingWriteStream));
        _written += buffer.Length;
        while (buffer.Length > 0)
        {
            int n = Math.Min(buffer.Length, BlockBytes - _filled);
            buffer[..n].CopyTo(block.AsSpan(_filled));
            _filled += n;
            buffer = buffer[n..];
            if (_filled == BlockBytes) block = Pass(block);
        }
    }

    /// <summary>Writes a full block, hands it to the hasher and returns the next block to fill.</summary>
    byte[] Pass(byte[] block)
    {
        _file.Write(block, 0, BlockBytes);
        if (_hasher is null)
        {
            _toHash = new(Queued);
            _hashed = new();
            _hasher = Task.Factory.StartNew(HashBlocks, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        _toHash!.Add((block, BlockBytes));
        // Queued blocks plus the one filling: rent more only while fewer exist; else wait for the hasher to free one.
        var next = _rented.Count <= Queued ? Rent() : _hashed!.Take();
        _block = next;
        _filled = 0;
        return next;
    }

    /// <summary>
    /// Hashes the blocks in order and hands each back. After a failure it only hands them back (the writer never
    /// waits on it forever); <see cref="Complete"/> throws the failure.
    /// </summary>
    void HashBlocks()
    {
        foreach (var (block, length) in _toHash!.GetConsumingEnumerable())
        {
            if (_hashFailure is null)
            {
                try
                {
                    _hash.AppendData(block, 0, length);
                }
                catch (Exception e)
                {
                    _hashFailure = e;
                }
            }
            _hashed!.Add(block);
        }
    }

    /// <summary>Nothing: blocks are written whole, and <see cref="Complete"/> writes the last one.</summary>
    public override void Flush() { }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void WriteByte(byte value) => Write(new ReadOnlySpan<byte>(in value));

    /// <summary>
    /// Stops the hasher and frees the blocks; bytes not yet written are dropped (a save that failed deletes its file).
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _rented.Count > 0)
        {
            if (_hasher is { } hasher)
            {
                if (!_toHash!.IsAddingCompleted) _toHash.CompleteAdding();
                hasher.Wait();
                _toHash.Dispose();
                _hashed!.Dispose();
            }
            foreach (var block in _rented) ArrayPool<byte>.Shared.Return(block);
            _rented.Clear();
            _block = null;
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override bool CanRead => false;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => !_completed && _block is not null;

    /// <summary>Bytes written so far.</summary>
    public override long Length => _written;

    /// <summary>Bytes written so far; it cannot be set.</summary>
    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();
}
