using System;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>An accumulator that starts at a constant, as the README's <c>[State] float v = 1e-6f;</c> says it may.</summary>
[Optimizer]
public partial class ConstantStartAdagrad
{
    [Hyper("[0, inf)")] float lr = 1f;
    [State] float v = 0.25f;

    [Update]
    void Update(ref float p, float g)
    {
        v += g * g;
        p -= lr * g / MathF.Sqrt(v);
    }
}

public class StateInitialValueTests
{
    [Theory]
    [InlineData(UpdateBackend.Portable)]
    [InlineData(UpdateBackend.Fused)]
    public void A_state_with_a_field_initializer_starts_at_that_constant_in_every_element(UpdateBackend backend)
    {
        var p = new Parameter(torch.zeros(3, ScalarType.Float32));
        using var opt = new ConstantStartAdagrad(new[] { p }, lr: 1) { Backend = backend };
        p.grad = torch.tensor(new[] { 1.0f, 0.0f, -2.0f });
        opt.step();

        // v = 0.25 + g², p = -g / sqrt(v): from 0.25, not from zero (which would give -sign(g) and a NaN for g = 0).
        Assert.Equal(new[] { 1.25f, 0.25f, 4.25f }, opt.StateOf(p).V.data<float>().ToArray());
        var expected = new[] { -1 / MathF.Sqrt(1.25f), 0f, 2 / MathF.Sqrt(4.25f) };
        var actual = p.data<float>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], actual[i], 6);
    }
}
