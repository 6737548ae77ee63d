using System;
using System.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// A tensor in a checkpoint, in the layout TorchSharp's <c>Tensor.Save</c> writes — the element type, the rank and each
/// size as unsigned LEB128 numbers, then the elements' bytes, contiguous, little-endian — so files are what they
/// were. The bytes go straight between the tensor's memory and the stream in large spans (TorchSharp copies them a
/// kilobyte at a time through a managed buffer), and a tensor may hold more than 2³¹ elements (TorchSharp's reader
/// refuses those).
/// </summary>
internal static class TensorRecord
{
    /// <summary>At most this many bytes in one stream call: large enough to cost nothing, within a span's length.</summary>
    const int PieceBytes = 1 << 26;

    /// <summary>Ranks beyond this are not a tensor any optimizer keeps: a record claiming one is corrupt.</summary>
    const int MaxRank = 64;

    /// <summary>Writes <paramref name="tensor"/> (from any device, in any layout) at the writer's position.</summary>
    public static void Write(BinaryWriter writer, Tensor tensor)
    {
        using var host = tensor.device_type == DeviceType.CPU ? null : tensor.cpu();
        var source = host ?? tensor;
        using var packed = source.is_contiguous() ? null : source.contiguous();
        var data = packed ?? source;
        writer.Write7BitEncodedInt64((long)data.dtype);
        writer.Write7BitEncodedInt64(data.shape.Length);
        foreach (long size in data.shape) writer.Write7BitEncodedInt64(size);
        writer.Flush();
        WriteBytes(writer.BaseStream, data);
    }

    /// <summary>Writes <paramref name="tensor"/>, or marks that there is none (the layout of TorchSharp's optional state).</summary>
    public static void WriteOptional(BinaryWriter writer, Tensor? tensor)
    {
        writer.Write(tensor is not null);
        if (tensor is not null) Write(writer, tensor);
    }

    /// <summary>
    /// Reads a tensor written by <see cref="Write"/> (or by TorchSharp's <c>Tensor.Save</c>) into a new CPU tensor; a
    /// record that cannot be one (an unknown type, a negative size, more bytes than the stream has left) is refused
    /// before anything is allocated.
    /// </summary>
    public static Tensor Read(BinaryReader reader)
    {
        var stream = reader.BaseStream;
        var type = (ScalarType)ReadNumber(reader, "element type");
        if (!Enum.IsDefined(type)) throw new InvalidDataException($"A tensor record has an unknown element type ({(long)type}).");
        long rank = ReadNumber(reader, "rank");
        if (rank > MaxRank) throw new InvalidDataException($"A tensor record claims rank {rank}.");
        var shape = new long[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = ReadNumber(reader, "size");
            elements = shape[d] == 0 || elements == 0 ? 0 : checked(elements * shape[d]);
        }
        long bytes = checked(elements * ElementBytes(type));
        if (stream.CanSeek && bytes > stream.Length - stream.Position)
            throw new EndOfStreamException();
        var tensor = torch.empty(shape, type);
        try
        {
            ReadBytes(stream, tensor, bytes);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Reads what <see cref="WriteOptional"/> wrote.</summary>
    public static Tensor? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? Read(reader) : null;

    static long ReadNumber(BinaryReader reader, string what)
    {
        try
        {
            long value = reader.Read7BitEncodedInt64();
            if (value < 0) throw new InvalidDataException($"A tensor record has a negative {what} ({value}).");
            return value;
        }
        catch (FormatException)
        {
            throw new InvalidDataException($"A tensor record's {what} is not a number.");
        }
    }

    static long ElementBytes(ScalarType type)
    {
        using var one = torch.empty(0, type);
        return one.ElementSize;
    }

    static unsafe void WriteBytes(Stream stream, Tensor tensor)
    {
        long left = tensor.NumberOfElements * tensor.ElementSize;
        var at = (byte*)TensorAddress.Of(tensor);
        for (; left > 0;)
        {
            int n = (int)Math.Min(left, PieceBytes);
            stream.Write(new ReadOnlySpan<byte>(at, n));
            at += n;
            left -= n;
        }
        GC.KeepAlive(tensor);
    }

    static unsafe void ReadBytes(Stream stream, Tensor tensor, long bytes)
    {
        var at = (byte*)TensorAddress.Of(tensor);
        FreshMemory.Prepare((IntPtr)at, bytes);
        for (long left = bytes; left > 0;)
        {
            int n = stream.Read(new Span<byte>(at, (int)Math.Min(left, PieceBytes)));
            if (n == 0) throw new EndOfStreamException();
            at += n;
            left -= n;
        }
        GC.KeepAlive(tensor);
    }
}
