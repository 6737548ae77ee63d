using System;
using System.IO;
using System.Linq;
using OptDsl.Examples;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Backends.Quantized;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// 8-bit optimizer state: the step is AdamW's on the dequantized state with the state quantized after it (against that
/// written out here with the codec), memory at rest, exact resume, training that tracks float32 state, refusals.
/// </summary>
public class QuantizedStateTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const int Steps = 12;
    const double Lr = 0.01, B1 = 0.9, B2 = 0.999, Eps = 1e-8, Wd = 0.01;

    static Tensor RoundTrip(Tensor x) => BlockQuantizer.Dequantize(BlockQuantizer.Quantize(x)).to(x.dtype);

    /// <summary>
    /// AdamW over float64 tensors with m and v replaced by their 8-bit round trip after every step (the codec is tested on
    /// its own). float64 on both sides, so the same codes are chosen: 1e-12.
    /// </summary>
    [Fact]
    public void The_step_is_AdamW_on_the_dequantized_state()
    {
        using var kept = KeptScalars.Rent();
        var p = TestData.Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        var m = p.Select(x => torch.zeros_like(x)).ToArray();
        var v = p.Select(x => torch.zeros_like(x)).ToArray();
        for (int t = 1; t <= Steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = TestData.Gradient(t, k, ScalarType.Float64);
                p[k] = p[k].mul(kept[(1 - Lr * Wd)]);
                m[k] = m[k].mul(kept[B1]).Plus(g.mul(kept[(1 - B1)]));
                v[k] = v[k].mul(kept[B2]).Plus(g.mul(kept[(1 - B2)]) * g);
                p[k] = p[k] - m[k].mul(kept[Lr / (1 - Math.Pow(B1, t))]) / v[k].div(kept[(1 - Math.Pow(B2, t))]).sqrt().add(kept[Eps], ScalarCalls.One);
                m[k] = RoundTrip(m[k]);
                v[k] = RoundTrip(v[k]);
            }

        var parameters = TestData.Parameters(ScalarType.Float64);
        using var optimizer = new OptDsl.Optimizers.AdamW(parameters, lr: Lr, weightDecay: Wd);
        optimizer.QuantizeState("m");
        optimizer.QuantizeState("v");
        for (int t = 1; t <= Steps; t++)
        {
            TestData.SetGradients(parameters, t);
            optimizer.step();
        }
        for (int k = 0; k < parameters.Length; k++)
        {
            Assert.True((parameters[k] - p[k]).abs().max().item<double>() < 1e-12, $"tensor {k}");
            var state = optimizer.StateOf(parameters[k]);
            Assert.Null(state.Tensors[0]);
            Assert.True((state.Read("v")! - v[k]).abs().max().item<double>() < 1e-15);
        }
        Assert.True(optimizer.IsStateQuantized("m"));
    }

    [Fact]
    public void Eight_bit_AdamW_state_takes_about_a_quarter_of_the_memory()
    {
        using var kept = KeptScalars.Rent();
        var full = new[] { new Parameter(torch.randn(1024, 768)), new Parameter(torch.randn(768)) };
        var small = full.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var fp32 = new OptDsl.Optimizers.AdamW(full);
        using var q8 = new OptDsl.Optimizers.AdamW(small);
        q8.QuantizeState("m");
        q8.QuantizeState("v");
        long predicted = q8.StateBytes;
        foreach (var ps in new[] { full, small })
            using (torch.no_grad()) foreach (var p in ps) p.grad = torch.ones_like(p).mul(kept[0.01]);
        fp32.step();
        q8.step();
        Assert.Equal(predicted, q8.StateBytes);
        double ratio = (double)q8.StateBytes / fp32.StateBytes;
        Assert.True(ratio <= 0.30, $"8-bit state is {ratio:P1} of float32 state");
        Assert.Equal((1 + 4.0 / 256) / 4, ratio, 3);
    }

    [Fact]
    public void A_run_resumed_from_a_checkpoint_repeats_the_uninterrupted_one()
    {
        var path = Path.Combine(Path.GetTempPath(), $"q8-{Guid.NewGuid():N}.ckpt");
        try
        {
            OptDsl.Optimizers.AdamW Create(Parameter[] ps)
            {
                var o = new OptDsl.Optimizers.AdamW(ps, lr: Lr);
                o.QuantizeState("m");
                o.QuantizeState("v");
                return o;
            }
            var straight = TestData.Parameters(ScalarType.Float32);
            using var a = Create(straight);
            for (int t = 1; t <= 10; t++) { TestData.SetGradients(straight, t); a.step(); }

            var first = TestData.Parameters(ScalarType.Float32);
            using (var b = Create(first))
            {
                for (int t = 1; t <= 5; t++) { TestData.SetGradients(first, t); b.step(); }
                b.SaveCheckpoint(path);
            }
            var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
            using var c = Create(resumed);
            c.LoadCheckpoint(path);
            for (int t = 6; t <= 10; t++) { TestData.SetGradients(resumed, t); c.step(); }
            for (int k = 0; k < straight.Length; k++)
                Assert.True(straight[k].equal(resumed[k]).all().item<bool>(), $"tensor {k} differs");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The spiral MLP, 900 steps of AdamW from the same weights on the same batches — through the plateau at ln 2 and
    /// well down from it: with 8-bit m and v the mean loss over the last 100 steps is within 25 % of float32 state's.
    /// </summary>
    [Fact]
    public void Training_with_8_bit_state_tracks_float32_state()
    {
        double Train(bool quantized)
        {
            var task = new SpiralTask(3);
            using var optimizer = new OptDsl.Optimizers.AdamW(task.Model.parameters(), lr: 1e-2);
            if (quantized)
            {
                optimizer.QuantizeState("m");
                optimizer.QuantizeState("v");
            }
            var losses = task.Train(optimizer, 900).Losses;
            return losses.Skip(800).Average();
        }
        double full = Train(false), eight = Train(true);
        output.WriteLine($"mean loss over steps 800-900: float32 state {full:F4}, 8-bit state {eight:F4}");
        Assert.True(full < 0.3, $"float32 state did not leave the plateau: {full:F4}");
        // Measured: 0.0097 and 0.0091. A quarter of float32's loss is a bound the quantization error should stay well inside;
        // an absolute 0.03 would have passed an 8-bit run three times worse than float32.
        Assert.True(Math.Abs(full - eight) <= 0.25 * full, $"float32 state {full:F4}, 8-bit state {eight:F4}");
    }

    [Fact]
    public void Bad_requests_are_refused_and_signed_state_keeps_its_sign()
    {
        using var kept = KeptScalars.Rent();
        using var adam = new OptDsl.Optimizers.AdamW(TestData.Parameters(ScalarType.Float32));
        Assert.Contains("'m', 'v', 'vMax'", Assert.Throws<ArgumentException>(() => adam.QuantizeState("moment")).Message);
        using var adafactor = new Adafactor(new[] { new Parameter(torch.ones(4, 3)) });
        Assert.Contains("per row", Assert.Throws<ArgumentException>(() => adafactor.QuantizeState("row")).Message);

        // m holds both signs; blocks with negative values take the signed map and keep their signs.
        var ps = TestData.Parameters(ScalarType.Float32);
        using var adamw = new OptDsl.Optimizers.AdamW(ps);
        adamw.QuantizeState("m");
        TestData.SetGradients(ps, 1);
        adamw.step();
        var m = adamw.StateOf(ps[0]).Read("m")!;
        var expected = TestData.Gradient(1, 0, ScalarType.Float32).mul(kept[0.1]);
        Assert.True(m.sign().equal(expected.sign()).all().item<bool>());
    }
}
