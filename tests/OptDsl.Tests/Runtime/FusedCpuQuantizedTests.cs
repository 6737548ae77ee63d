using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Backends.Quantized;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// 8-bit state on the fused CPU path: each chunk's codes are expanded into float32 scratch, the element code runs, and
/// the chunk is packed back. The codec against the portable one bit for bit; AdamW (one pass) and LAMB (two phases)
/// against the portable path's dequantize-step-quantize.
/// </summary>
public class FusedCpuQuantizedTests
{
    /// <summary>Sizes with whole blocks, a partial last block, several chunks and one element.</summary>
    static readonly long[] Sizes = { 1, 255, 256, 257, 1000, 32768, 32769, 70_001 };

    [Fact]
    public void The_chunk_codec_chooses_the_portable_codecs_codes_and_scales()
    {
        using var kept = KeptScalars.Rent();
        foreach (long n in Sizes)
        {
            torch.manual_seed(n);
            var x = torch.randn(n).mul(torch.rand(n).mul(kept[8.0]).sub(kept[6.0]).exp());
            // An all-zero block, a non-negative block (unsigned map) and a block holding NaN, where the tensor has them.
            if (n > 3 * 256)
            {
                x[..256].zero_();
                x[256..512].abs_();
                x[600] = torch.tensor(float.NaN);
            }
            var expected = BlockQuantizer.Quantize(x);
            var values = x.contiguous().data<float>().ToArray();
            var codes = new byte[n];
            var scales = new float[expected.Absmax.NumberOfElements];
            var back = new float[n];
            for (int offset = 0; offset < n; offset += FusedCpuRunner.ChunkElements)
            {
                int length = (int)Math.Min(FusedCpuRunner.ChunkElements, n - offset);
                var chunkScales = scales.AsSpan(offset / BlockQuantizer.BlockSize, (length + BlockQuantizer.BlockSize - 1) / BlockQuantizer.BlockSize);
                CpuBlockCodec.Pack(values.AsSpan(offset, length), codes.AsSpan(offset, length), chunkScales);
                CpuBlockCodec.Expand(codes.AsSpan(offset, length), chunkScales, back.AsSpan(offset, length));
            }
            var expectedCodes = expected.Codes.data<byte>().ToArray();
            // A block holding NaN comes back as NaN whatever its codes: the codecs may pick other ones there.
            int bad = Enumerable.Range(0, (int)n).FirstOrDefault(i => codes[i] != expectedCodes[i] && !float.IsNaN(scales[i / 256]), -1);
            Assert.True(bad < 0, bad < 0 ? "" : $"{n}: code {bad} is {codes[bad]}, the portable codec's {expectedCodes[bad]} (value {values[bad]:R}, scale {scales[bad / 256]:R})");
            Assert.True(scales.Select(BitConverter.SingleToInt32Bits).SequenceEqual(BitsOf(expected.Absmax)), $"{n}: block scales");
            var dequantized = BitsOf(BlockQuantizer.Dequantize(expected));
            Assert.True(back.Select(BitConverter.SingleToInt32Bits).SequenceEqual(dequantized), $"{n}: expanded values");
        }
    }

    static int[] BitsOf(Tensor t) => t.contiguous().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    [Fact]
    public void Eight_bit_AdamW_state_on_the_fused_CPU_path_agrees_with_the_portable_path() =>
        Agrees("AdamW, one pass", ps => new OptDsl.Optimizers.AdamW(ps, lr: 1e-2));

    [Fact]
    public void Eight_bit_LAMB_state_on_the_fused_CPU_path_agrees_with_the_portable_path() =>
        Agrees("LAMB, two phases", ps => new OptDsl.Optimizers.Lamb(ps, lr: 1e-2));

    /// <summary>
    /// Both paths update in float32 in another order (a few ulps), then quantize: each block's scale (its largest
    /// magnitude) may differ by ulps, and a value within an ulp of a midpoint between two codes may take the other one.
    /// So the parameters must agree to 1e-4 relative except for rare elements (1 in 20,000), the codes must be the same
    /// for all but 1 in 10,000 elements, and the block scales within 1e-5 relative (measured with 8-lane vectors: no
    /// parameter beyond, 2 codes of 274,614, scales 1.4e-6, for both rules).
    /// </summary>
    static void Agrees<TOptions, TState>(string name, Func<Parameter[], DeclaredOptimizer<TOptions, TState>> create)
        where TOptions : DeclaredOptions, new() where TState : DeclaredState
    {
        using var kept = KeptScalars.Rent();
        torch.manual_seed(3);
        var initial = Sizes.Select(n => torch.randn(n)).ToArray();
        var fused = initial.Select(t => new Parameter(t.clone())).ToArray();
        var portable = initial.Select(t => new Parameter(t.clone())).ToArray();
        using var a = create(fused);
        using var b = create(portable);
        a.Backend = UpdateBackend.Fused;
        b.Backend = UpdateBackend.Portable;
        foreach (var o in new[] { a, b }) { o.QuantizeState("m"); o.QuantizeState("v"); }
        for (int step = 1; step <= 12; step++)
        {
            for (int k = 0; k < Sizes.Length; k++)
            {
                var g = torch.randn(Sizes[k]);
                fused[k].grad = g;
                portable[k].grad = g.clone();
            }
            a.step();
            b.step();
        }
        Assert.Contains("8-bit state expanded per chunk", a.FusedStatus);
        long total = Sizes.Sum(), beyond = 0, codesDiffer = 0;
        double worstScale = 0;
        for (int k = 0; k < Sizes.Length; k++)
        {
            var relative = (fused[k] - portable[k]).abs() / portable[k].abs().clamp_min(kept[1.0]);
            beyond += relative.gt(kept[1e-4]).sum().item<long>();
            for (int i = 0; i < 2; i++)
            {
                var (x, y) = (a.StateOf(fused[k]).QuantizedSlot(i)!, b.StateOf(portable[k]).QuantizedSlot(i)!);
                codesDiffer += x.Codes.ne(y.Codes).sum().item<long>();
                // The block scales are the blocks' largest magnitudes, a few ulps apart.
                worstScale = Math.Max(worstScale, ((x.Absmax - y.Absmax).abs() / y.Absmax.abs().clamp_min(kept[1e-30])).max().item<float>());
            }
            Assert.Null(a.StateOf(fused[k]).Tensors[0]);
        }
        Assert.True(beyond * 20_000 <= total, $"{name}: {beyond} of {total} parameters differ by more than 1e-4 relative");
        Assert.True(codesDiffer * 10_000 <= 2 * total, $"{name}: {codesDiffer} of {2 * total} codes differ");
        Assert.True(worstScale <= 1e-5, $"{name}: block scales differ by up to {worstScale:E2} relative");
    }
}
