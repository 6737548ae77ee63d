using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using OptDsl.Tests.Catalog;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The counter-based generator: Philox4x32-10 against the known answers published with the algorithm (Random123's
/// test vectors), the tensor implementation against the host one bit for bit, and the normals' distribution.
/// </summary>
public class CounterRandomTests
{
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Philox_gives_the_published_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        Assert.Equal((r0, r1, r2, r3), CounterRandom.Philox(c0, c1, c2, c3, k0, k1));
    }

    [Theory]
    [InlineData(0ul, 0ul, 0L)]
    [InlineData(0xDEADBEEFCAFEF00Dul, 7ul, 123_456L)]
    [InlineData(42ul, 0x1_0000_0003ul, (1L << 32) - 500)]   // indices crossing 2^32, a stream above 2^32
    public void Tensor_words_and_normals_equal_the_host_ones_bit_for_bit(ulong seed, ulong stream, long offset)
    {
        const int n = 1000;
        var (w0, w1) = CounterRandomTensors.Words(seed, stream, n, CPU, offset);
        var normals = CounterRandomTensors.Normal(seed, stream, new long[] { 10, 100 }, CPU, offset).flatten();
        var uniforms = CounterRandomTensors.Uniform(seed, stream, new long[] { n }, CPU, offset);
        var (a, b, z, u) = (w0.data<long>().ToArray(), w1.data<long>().ToArray(), normals.data<float>().ToArray(), uniforms.data<float>().ToArray());
        for (int i = 0; i < n; i++)
        {
            var (x0, x1) = CounterRandom.Words(seed, stream, offset + i);
            Assert.Equal((long)x0, a[i]);
            Assert.Equal((long)x1, b[i]);
            Assert.Equal(BitConverter.SingleToInt32Bits(CounterRandom.Normal(seed, stream, offset + i)), BitConverter.SingleToInt32Bits(z[i]));
            Assert.Equal(CounterRandom.Uniform(seed, stream, offset + i), u[i]);
        }
    }

    [Fact]
    public void As_TorchSharp_operations_the_logarithm_and_cosine_equal_the_host_ones_bit_for_bit()
    {
        // The CUDA path's pieces, run on the CPU: all but the square root, which libtorch's CPU kernel does not round
        // correctly (the GPU check compares the whole normal on CUDA with the host).
        var us = Enumerable.Range(0, 20_000).Select(i => (float)((i * 8191L) % 16777216 + 1) / 16777216f).ToArray();
        var t = torch.tensor(us);
        var logs = CounterRandomTensors.Log(t).data<float>().ToArray();
        var cosines = CounterRandomTensors.CosTurn(t).data<float>().ToArray();
        for (int i = 0; i < us.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(CounterRandom.Log(us[i])), BitConverter.SingleToInt32Bits(logs[i]));
            Assert.Equal(BitConverter.SingleToInt32Bits(CounterRandom.CosTurn(us[i])), BitConverter.SingleToInt32Bits(cosines[i]));
        }
    }

    [Fact]
    public void The_log_and_cosine_are_accurate_to_a_few_float32_ulps()
    {
        // Every 24-bit uniform the generator can give is k * 2^-24; a spread of them, ends included.
        var ks = Enumerable.Range(0, 4096).Select(i => 1L + (long)i * 4097).Append(1L << 24).Append(1L).Append((1L << 23) + 1);
        foreach (var k in ks)
        {
            float u = k / 16777216f;
            Assert.True(Math.Abs(CounterRandom.Log(u) - Math.Log(u)) <= 4e-7 * Math.Max(1, Math.Abs(Math.Log(u))), $"log {u}");
            Assert.True(Math.Abs(CounterRandom.CosTurn(u) - Math.Cos(2 * Math.PI * u)) <= 4e-7, $"cos {u}");
        }
    }

    [Fact]
    public void Normals_have_the_moments_and_tails_of_a_standard_normal()
    {
        using var kept = KeptScalars.Rent();
        var z = CounterRandomTensors.Normal(3, 1, new long[] { 1_000_000 }, CPU).to(ScalarType.Float64);
        double mean = z.mean().item<double>(), variance = z.var().item<double>();
        // Standard errors for a million draws: 0.001 for the mean, 0.0014 for the variance.
        Assert.InRange(mean, -0.005, 0.005);
        Assert.InRange(variance, 0.993, 1.007);
        // P(|z| > 3) = 0.0027 (binomial sd 5.2e-5); P(|z| > 2) = 0.0455.
        Assert.InRange(z.abs().gt(kept[3]).to(ScalarType.Float64).mean().item<double>(), 0.0025, 0.0029);
        Assert.InRange(z.abs().gt(kept[2]).to(ScalarType.Float64).mean().item<double>(), 0.0449, 0.0461);
        Assert.False(z.isnan().any().item<bool>() || z.isinf().any().item<bool>());
    }

    [Fact]
    public void Streams_and_seeds_give_unrelated_numbers_and_each_element_regenerates_alone()
    {
        var a = CounterRandomTensors.Normal(5, 1, new long[] { 10_000 }, CPU).to(ScalarType.Float64);
        var b = CounterRandomTensors.Normal(5, 2, new long[] { 10_000 }, CPU).to(ScalarType.Float64);
        var c = CounterRandomTensors.Normal(6, 1, new long[] { 10_000 }, CPU).to(ScalarType.Float64);
        // Correlations of independent draws: about 0.01 (one standard error).
        Assert.InRange(torch.corrcoef(torch.stack(new[] { a, b }))[0, 1].item<double>(), -0.05, 0.05);
        Assert.InRange(torch.corrcoef(torch.stack(new[] { a, c }))[0, 1].item<double>(), -0.05, 0.05);
        var slice = CounterRandomTensors.Normal(5, 1, new long[] { 100 }, CPU, offset: 4_000).to(ScalarType.Float64);
        Assert.True(TestData.Identical(slice, a[4_000..4_100]));
    }

    [Fact]
    public void Bad_shapes_and_offsets_are_refused()
    {
        Assert.Throws<ArgumentException>(() => CounterRandomTensors.Normal(1, 1, new long[] { -1 }, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => CounterRandomTensors.Words(1, 1, 4, CPU, offset: -1));
    }
}
