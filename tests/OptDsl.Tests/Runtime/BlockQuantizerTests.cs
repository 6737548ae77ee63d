using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Backends.Quantized;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The 8-bit blockwise codec: the maps' shape, the round trip within the stated bound element by element (computed here
/// from the map each block should use, independently of the codec's bucketing), exact zeros and block maxima, the map
/// chosen per block by its sign, partial, all-zero and non-finite blocks.
/// </summary>
public class BlockQuantizerTests
{
    [Fact]
    public void The_maps_hold_zero_and_one_and_are_ascending()
    {
        var signed = BlockQuantizer.Map(signed: true);
        var unsigned = BlockQuantizer.Map(signed: false);
        Assert.Equal(255, signed.Count);
        Assert.Equal(256, unsigned.Count);
        foreach (var map in new[] { signed, unsigned })
        {
            Assert.Contains(0f, map);
            Assert.Equal(1f, map[^1]);
            for (int i = 1; i < map.Count; i++) Assert.True(map[i] > map[i - 1]);
        }
        Assert.Equal(-1f, signed[0]);
        // The dynamic map keeps small values: the unsigned map reaches 10^-7 of the block's absmax, the signed one 10^-6.
        Assert.Equal(1e-7f, unsigned[1], 1e-12f);
        Assert.Equal(1e-6f, signed.Where(v => v > 0).Min(), 1e-11f);
    }

    [Theory]
    [InlineData(true, 1000)]
    [InlineData(false, 1000)]
    [InlineData(true, 256 * 3 + 17)]
    public void The_round_trip_keeps_the_stated_bound(bool withNegatives, int n)
    {
        using var kept = KeptScalars.Rent();
        var generator = new torch.Generator(5);
        // Magnitudes over eight decades, as a second moment has them; with both signs, as a first moment has them, in
        // every block but the second (which then takes the unsigned map).
        var x = torch.pow(10f, torch.rand(n, generator: generator).mul(kept[-8]));
        if (withNegatives)
        {
            x = x.mul(torch.rand(n, generator: generator).lt(kept[0.5]).to(ScalarType.Float32).mul(kept[2]).sub(kept[1]));
            x[256..512] = x[256..512].abs();
        }
        x[5] = 0f;
        var q = BlockQuantizer.Quantize(x);
        var back = BlockQuantizer.Dequantize(q);
        Assert.Equal(x.shape, back.shape);
        var values = x.data<float>().ToArray();
        var restored = back.data<float>().ToArray();
        for (int b = 0; b * BlockQuantizer.BlockSize < n; b++)
        {
            var block = Enumerable.Range(b * BlockQuantizer.BlockSize, Math.Min(BlockQuantizer.BlockSize, n - b * BlockQuantizer.BlockSize)).ToArray();
            double absmax = block.Max(i => Math.Abs((double)values[i]));
            bool signed = block.Any(i => values[i] < 0);
            Assert.Equal((float)(signed ? -absmax : absmax), q.Absmax[b].item<float>());
            foreach (int i in block)
            {
                double bound = absmax * BlockQuantizer.MaxError(signed, values[i] / absmax) * (1 + 1e-6) + 1e-12;
                Assert.True(Math.Abs(restored[i] - values[i]) <= bound, $"element {i}: {values[i]} came back as {restored[i]} (bound {bound:E2})");
                if (Math.Abs(values[i]) == absmax) Assert.Equal(values[i], restored[i]);
            }
        }
        Assert.Equal(0f, restored[5]);
        Assert.Equal(n + 4 * ((n + 255) / 256), q.Bytes);
    }

    [Fact]
    public void All_zero_and_non_finite_blocks()
    {
        var x = torch.zeros(3, 200);
        x[2, 199] = -0.5f;
        var back = BlockQuantizer.Dequantize(BlockQuantizer.Quantize(x));
        Assert.True(back.equal(x).all().item<bool>());

        // A block holding NaN or infinity comes back as NaN; the other blocks are untouched by it.
        var y = torch.linspace(-1, 1, 600);
        y[300] = float.PositiveInfinity;
        var z = BlockQuantizer.Dequantize(BlockQuantizer.Quantize(y));
        Assert.True(z[256..512].isnan().all().item<bool>());
        Assert.False(z[..256].isnan().any().item<bool>() || z[512..].isnan().any().item<bool>());
    }
}
