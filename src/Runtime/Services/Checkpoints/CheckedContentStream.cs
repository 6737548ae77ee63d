using System;
using System.Buffers;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The part of an open checkpoint file its checksum covers, read in blocks of 1 MiB from the very handle the checksum
/// was computed over (a save renaming a new file over the path meanwhile does not reach it). Positions count from the
/// start of the file and <see cref="Length"/> is where the checksum begins, so reading past the content ends the
/// stream. TorchSharp reads a tensor's bytes a kilobyte at a time; the blocks keep that from costing a system call each.
/// </summary>
internal sealed class CheckedContentStream : Stream
{
    const int BlockBytes = 1 << 20;

    readonly SafeFileHandle _file;
    readonly long _end;
    byte[]? _block = ArrayPool<byte>.Shared.Rent(BlockBytes);
    long _blockStart, _position;
    int _blockLength;

    /// <summary>Reads <paramref name="file"/> (which it closes when disposed) from <paramref name="start"/> up to <paramref name="end"/>.</summary>
    public CheckedContentStream(SafeFileHandle file, long start, long end)
    {
        _file = file;
        _end = end;
        _position = _blockStart = start;
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        var block = _block ?? throw new ObjectDisposedException(nameof(CheckedContentStream));
        long left = _end - _position;
        if (left <= 0 || buffer.IsEmpty) return 0;
        if (buffer.Length > left) buffer = buffer[..(int)left];
        long inBlock = _position - _blockStart;
        if (inBlock < 0 || inBlock >= _blockLength)
        {
            if (buffer.Length >= BlockBytes)
            {
                // A large read goes straight into its destination.
                int direct = RandomAccess.Read(_file, buffer, _position);
                if (direct == 0) throw new EndOfStreamException("The checkpoint file became shorter while it was read.");
                _position += direct;
                return direct;
            }
            _blockStart = _position;
            _blockLength = RandomAccess.Read(_file, block.AsSpan(0, (int)Math.Min(BlockBytes, left)), _position);
            if (_blockLength == 0) throw new EndOfStreamException("The checkpoint file became shorter while it was read.");
            inBlock = 0;
        }
        int n = (int)Math.Min(buffer.Length, _blockLength - inBlock);
        block.AsSpan((int)inBlock, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin)
    {
        long target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => _end + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        if (target < 0) throw new IOException("Seek before the start of the checkpoint.");
        _position = target;
        return target;
    }

    /// <inheritdoc/>
    public override bool CanRead => _block is not null;

    /// <inheritdoc/>
    public override bool CanSeek => _block is not null;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <summary>Where the content ends: the offset of the checksum.</summary>
    public override long Length => _end;

    /// <summary>The offset of the next byte to read, from the start of the file.</summary>
    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    /// <inheritdoc/>
    public override void Flush() { }

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Closes the file and frees the block.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _block is not null)
        {
            ArrayPool<byte>.Shared.Return(_block);
            _block = null;
            _file.Dispose();
        }
        base.Dispose(disposing);
    }
}
