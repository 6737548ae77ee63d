using System;
using System.IO;
using OptDsl.Runtime.Services.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Tensors in checkpoints are written and read by OptDsl in large spans; the bytes must stay exactly TorchSharp's
/// <c>Tensor.Save</c> layout, so files written before (and TorchSharp's own readers) still agree.
/// </summary>
public sealed class TensorRecordTests
{
    public static TheoryData<string> Tensors => new() { "float32 4x3x5", "float64 7", "bfloat16 3x300", "int64 scalar", "uint8 empty 0x4", "float16 transposed 6x9", "float32 strided slice" };

    static Tensor Make(string name)
    {
        using var generator = new torch.Generator(7);
        return name switch
        {
            "float32 4x3x5" => torch.randn(new long[] { 4, 3, 5 }, generator: generator),
            "float64 7" => torch.randn(new long[] { 7 }, ScalarType.Float64, generator: generator),
            "bfloat16 3x300" => torch.randn(new long[] { 3, 300 }, generator: generator).to(ScalarType.BFloat16),
            "int64 scalar" => torch.tensor(1234567890123L),
            "uint8 empty 0x4" => torch.empty(new long[] { 0, 4 }, ScalarType.Byte),
            "float16 transposed 6x9" => torch.randn(new long[] { 9, 6 }, generator: generator).to(ScalarType.Float16).t(),
            "float32 strided slice" => torch.randn(new long[] { 10, 8 }, generator: generator)[TensorIndex.Slice(null, null, 3)],
            _ => throw new ArgumentException(name),
        };
    }

    static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer)) write(writer);
        return buffer.ToArray();
    }

    [Theory]
    [MemberData(nameof(Tensors))]
    public void Writes_what_TorchSharp_writes_and_reads_it_back_exactly(string name)
    {
        using var tensor = Make(name);
        var ours = Bytes(w => TensorRecord.Write(w, tensor));
        using var packed = tensor.contiguous();
        var theirs = Bytes(w => packed.Save(w));
        Assert.Equal(theirs, ours);

        using var reader = new BinaryReader(new MemoryStream(theirs));
        using var read = TensorRecord.Read(reader);
        Assert.Equal(tensor.dtype, read.dtype);
        Assert.Equal(tensor.shape, read.shape);
        Assert.Equal(Bytes(w => TensorRecord.Write(w, tensor)), Bytes(w => TensorRecord.Write(w, read)));
        Assert.Equal(theirs.Length, reader.BaseStream.Position);
    }

    [Fact]
    public void Optional_tensors_keep_TorchSharps_layout_too()
    {
        using var tensor = Make("float32 4x3x5");
        Assert.Equal(new byte[] { 0 }, Bytes(w => TensorRecord.WriteOptional(w, null)));
        Assert.Equal(Bytes(w => { w.Write(true); tensor.Save(w); }), Bytes(w => TensorRecord.WriteOptional(w, tensor)));
    }

    [Theory]
    [InlineData(new byte[] { 6, 2, 3 }, typeof(EndOfStreamException))] // float32 [3, ?]: the stream ends in the shape
    [InlineData(new byte[] { 6, 1, 0x80, 0x80, 0x80, 0x80, 0x10 }, typeof(EndOfStreamException))] // 2^32 floats, 0 bytes follow
    [InlineData(new byte[] { 99, 0 }, typeof(InvalidDataException))] // no such element type
    [InlineData(new byte[] { 6, 65 }, typeof(InvalidDataException))] // rank 65
    [InlineData(new byte[] { 6, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, typeof(InvalidDataException))] // a size past 2^63
    [InlineData(new byte[] { 6, 1, 4, 0, 0, 0x80, 0x3F }, typeof(EndOfStreamException))] // four floats, one and a half there
    public void A_record_that_cannot_be_a_tensor_is_refused_before_anything_is_allocated(byte[] bytes, Type expected)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        Assert.Throws(expected, () => TensorRecord.Read(reader));
    }
}
