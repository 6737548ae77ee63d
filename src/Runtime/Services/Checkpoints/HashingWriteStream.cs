using System;
using System.Buffers;
using System.IO;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The content of a checkpoint on its way to the file, through its checksum. Small writes (numbers, names, a tensor's
/// header) gather in a block of 1 MiB so they cost one system call per block; a large write (a tensor's bytes) goes
/// from its own memory in pieces of 1 MiB, each hashed and then written while it is still in the cache. Memory stays
/// at one block whatever the size.
/// </summary>
internal sealed class HashingWriteStream : Stream
{
    /// <summary>1 MiB: a system call per block costs nothing beside its bytes, and a piece stays in the cache between its hash and its write.</summary>
    const int BlockBytes = 1 << 20;

    readonly Stream _file;
    readonly CheckpointChecksum _checksum = new(CheckpointChecksum.Current);
    byte[]? _block = ArrayPool<byte>.Shared.Rent(BlockBytes);
    int _filled;
    long _written;

    /// <summary>Writes into <paramref name="file"/>, which stays the caller's to close.</summary>
    public HashingWriteStream(Stream file) => _file = file;

    /// <summary>Writes what is gathered and returns the checksum of everything written; nothing may be written after.</summary>
    public byte[] Complete()
    {
        Drain();
        _block = Return(_block);
        return _checksum.Finish();
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var block = _block ?? throw new ObjectDisposedException(nameof(HashingWriteStream));
        _written += buffer.Length;
        if (_filled + buffer.Length <= BlockBytes)
        {
            buffer.CopyTo(block.AsSpan(_filled));
            _filled += buffer.Length;
            if (_filled == BlockBytes) Drain();
            return;
        }
        Drain();
        while (buffer.Length >= BlockBytes)
        {
            Pass(buffer[..BlockBytes]);
            buffer = buffer[BlockBytes..];
        }
        buffer.CopyTo(block);
        _filled = buffer.Length;
    }

    /// <summary>Hashes and writes what is gathered.</summary>
    void Drain()
    {
        if (_filled == 0 || _block is null) return;
        Pass(_block.AsSpan(0, _filled));
        _filled = 0;
    }

    void Pass(ReadOnlySpan<byte> piece)
    {
        _checksum.Append(piece);
        _file.Write(piece);
    }

    static byte[]? Return(byte[]? block)
    {
        if (block is not null) ArrayPool<byte>.Shared.Return(block);
        return null;
    }

    /// <summary>Nothing: <see cref="Complete"/> writes what is gathered.</summary>
    public override void Flush() { }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void WriteByte(byte value) => Write(new ReadOnlySpan<byte>(in value));

    /// <summary>Frees the block; bytes not yet written are dropped (a save that failed deletes its file).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _block = Return(_block);
            _checksum.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override bool CanRead => false;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => _block is not null;

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
