using System;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using SGD = OptDsl.Optimizers.SGD;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Stochastic rounding of bfloat16 parameters: the tensor code against the bit-level definition
/// (<see cref="StochasticRounding.Round"/>) on every kind of value, unbiased in expectation, reproducible from the seed,
/// and what it does to an optimizer whose updates are below bfloat16's step.
/// </summary>
public class StochasticRoundingTests
{
    /// <summary>Values of every kind: many magnitudes and signs, bfloat16's own values, zeros, subnormals, the largest finite values, infinities and NaN.</summary>
    static float[] Values()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 4000).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-140, 128)))).ToList();
        values.AddRange(new[] { 0f, -0f, 1f, -1f, 1 + 1f / 128, 1 + 1f / 1024, float.Epsilon, -float.Epsilon, 1e-39f, -3e-40f, float.MaxValue, -float.MaxValue,
            BitConverter.UInt32BitsToSingle(0x7F7F0000u), BitConverter.UInt32BitsToSingle(0x7F7FFFFFu), float.PositiveInfinity, float.NegativeInfinity, float.NaN });
        return values.ToArray();
    }

    static float Bf16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [Theory]
    [InlineData(0u)]
    [InlineData(0xDEADBEEFu)]
    public void The_tensor_code_gives_the_bits_of_the_definition_for_every_kind_of_value(uint key)
    {
        var values = Values();
        using var p32 = torch.tensor(values);
        using var p = torch.zeros(values.Length, ScalarType.BFloat16);
        StochasticRounding.Store(p, p32, key);
        var ours = p.to(ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            float expected = Bf16(StochasticRounding.Round(values[i], key, i));
            Assert.True(BitConverter.SingleToUInt32Bits(ours[i]) == BitConverter.SingleToUInt32Bits(expected) || (float.IsNaN(ours[i]) && float.IsNaN(expected)),
                $"element {i}: {values[i]:R} rounded to {ours[i]:R}, the definition gives {expected:R}");
        }
    }

    [Fact]
    public void A_value_between_two_bfloat16_neighbours_rounds_up_as_often_as_its_distance_says()
    {
        // 1 + 2^-10 lies 1/8 of the way from 1 to 1 + 2^-7: over n = 65,536 draws it rounds up about n/8 times, and the
        // binomial's standard deviation is sqrt(n·(1/8)·(7/8)) ≈ 85, so 5 of them (425) bound an unlucky draw.
        const int n = 65536;
        float x = 1 + 1f / 1024;
        int up = Enumerable.Range(0, n).Count(i => Bf16(StochasticRounding.Round(x, 12345, i)) > x);
        Assert.InRange(up, n / 8 - 425, n / 8 + 425);
        Assert.All(Enumerable.Range(0, 1000), i => Assert.Contains(Bf16(StochasticRounding.Round(x, 12345, i)), new[] { 1f, 1 + 1f / 128 }));
    }

    [Fact]
    public void The_key_depends_on_seed_step_and_parameter()
    {
        var keys = new[] { StochasticRounding.Key(1, 1, 0), StochasticRounding.Key(2, 1, 0), StochasticRounding.Key(1, 2, 0), StochasticRounding.Key(1, 1, 1),
            StochasticRounding.Key(1UL << 40, 1, 0), StochasticRounding.Key(1, 1L << 40, 0) };
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.Equal(StochasticRounding.Key(7, 3, 2), StochasticRounding.Key(7, 3, 2));
    }

    /// <summary>
    /// SGD with updates of 2^-12 on weights near 1 (bfloat16's step there is 2^-7): to nearest, every update is lost; stochastic
    /// rounding follows float32 in expectation. Over 400 steps float32 moves each weight by 400·2^-12 ≈ 0.098, a sum of 400
    /// draws whose spread (each step's rounding error at most 2^-7, independent) is at most sqrt(400)·2^-7/2 ≈ 0.08 per
    /// weight, so the mean over 256 weights lies within 0.08·5/16 = 0.025 of float32's.
    /// </summary>
    [Fact]
    public void Small_updates_stall_to_nearest_and_add_up_stochastically()
    {
        const int steps = 400, n = 256;
        Parameter Start(ScalarType t) => new(torch.ones(n, t));
        var fp32 = Start(ScalarType.Float32);
        var nearest = Start(ScalarType.BFloat16);
        var stochastic = Start(ScalarType.BFloat16);
        var again = Start(ScalarType.BFloat16);
        var optimizers = new[]
        {
            new SGD(new[] { fp32 }, lr: 1.0 / 4096),
            new SGD(new[] { nearest }, lr: 1.0 / 4096),
            new SGD(new[] { stochastic }, lr: 1.0 / 4096) { Rounding = HalfPrecisionRounding.Stochastic, RoundingSeed = 42 },
            new SGD(new[] { again }, lr: 1.0 / 4096) { Rounding = HalfPrecisionRounding.Stochastic, RoundingSeed = 42 },
        };
        var parameters = new[] { fp32, nearest, stochastic, again };
        for (int t = 0; t < steps; t++)
            for (int k = 0; k < 4; k++)
            {
                parameters[k].grad = torch.ones(n, parameters[k].dtype);
                optimizers[k].step();
            }
        double Mean(Parameter p) => p.to(ScalarType.Float64).mean().item<double>();
        Assert.Equal(1.0, Mean(nearest));
        Assert.Equal(1 - steps / 4096.0, Mean(fp32), 5);
        Assert.InRange(Mean(stochastic), Mean(fp32) - 0.025, Mean(fp32) + 0.025);
        Assert.True(stochastic.to(ScalarType.Float32).eq(again.to(ScalarType.Float32)).all().item<bool>(), "the same seed gave other bits");
        foreach (var o in optimizers) o.Dispose();
    }

    [Fact]
    public void Routes_under_one_seed_draw_their_own_bits()
    {
        // Two routes of one parameter each, the same start and gradients, one seed: each route's first parameter would
        // be parameter 0 of its optimizer; the routes count on from one another, so the two round differently.
        var a = new Parameter(torch.ones(256, ScalarType.BFloat16));
        var b = new Parameter(torch.ones(256, ScalarType.BFloat16));
        using var routed = new[] { ("a", a), ("b", b) }
            .Route("first", (name, _) => name == "a", ps => new SGD(ps.Select(p => p.parameter), lr: 1.0 / 4096) { Rounding = HalfPrecisionRounding.Stochastic })
            .Otherwise("second", ps => new SGD(ps.Select(p => p.parameter), lr: 1.0 / 4096) { Rounding = HalfPrecisionRounding.Stochastic });
        a.grad = torch.ones(256, ScalarType.BFloat16);
        b.grad = torch.ones(256, ScalarType.BFloat16);
        routed.step();
        Assert.False(a.to(ScalarType.Float32).eq(b.to(ScalarType.Float32)).all().item<bool>(), "the two routes drew the same bits");
    }

    [Fact]
    public void Float16_parameters_refuse_stochastic_rounding_before_anything_changes()
    {
        var p = new Parameter(torch.ones(8, ScalarType.Float16));
        using var sgd = new SGD(new[] { p }, lr: 0.1) { Rounding = HalfPrecisionRounding.Stochastic };
        p.grad = torch.ones(8, ScalarType.Float16);
        var e = Assert.Throws<InvalidOperationException>(() => sgd.step());
        Assert.Contains("bfloat16", e.Message);
        Assert.True(p.eq(torch.ones(8, ScalarType.Float16)).all().item<bool>());
        Assert.Equal(0, sgd.StepCount);
    }

    [CudaFact]
    public void CUDA_tensors_round_to_the_same_bits_as_CPU_ones()
    {
        var values = Values();
        using var cpu = torch.zeros(values.Length, ScalarType.BFloat16);
        using var cuda = torch.zeros(values.Length, ScalarType.BFloat16, torch.CUDA);
        StochasticRounding.Store(cpu, torch.tensor(values), 99);
        StochasticRounding.Store(cuda, torch.tensor(values).cuda(), 99);
        var a = cpu.to(ScalarType.Float32).data<float>().ToArray();
        var b = cuda.cpu().to(ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(a[i]) == BitConverter.SingleToUInt32Bits(b[i]) || (float.IsNaN(a[i]) && float.IsNaN(b[i])), $"element {i}: {a[i]:R} on the CPU, {b[i]:R} on CUDA");
    }
}
