using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>Per-element conditions joined with host ones by && and || (found by the generator fuzzing).</summary>
[Optimizer]
public partial class MixedConditions
{
    [Hyper("[0, inf)")] float lr = 1f;
    [Hyper] bool on = true;

    [Update]
    void Update(ref float p, float g, int t)
    {
        if (g > 0 && on) p -= lr;
        if (g < 0 || t > 1) p += 10 * lr;
    }
}

public class MixedConditionTests
{
    [Theory]
    [InlineData(true, OptDsl.Runtime.Core.UpdateBackend.Portable)]
    [InlineData(false, OptDsl.Runtime.Core.UpdateBackend.Portable)]
    [InlineData(true, OptDsl.Runtime.Core.UpdateBackend.Fused)]
    [InlineData(false, OptDsl.Runtime.Core.UpdateBackend.Fused)]
    public void Host_and_element_conditions_combine_per_element(bool on, OptDsl.Runtime.Core.UpdateBackend backend)
    {
        var p = new Parameter(torch.zeros(3, ScalarType.Float32));
        using var opt = new MixedConditions(new[] { p }, lr: 1, on: on) { Backend = backend };
        var g = torch.tensor(new[] { 1.0f, -1.0f, 0.0f });
        p.grad = g;
        opt.step(); // t = 1: only g < 0 adds
        float first = on ? -1 : 0;
        Assert.Equal(new[] { first, 10, 0 }, p.data<float>().ToArray());
        p.grad = g.clone();
        opt.step(); // t = 2: t > 1 adds everywhere
        Assert.Equal(new[] { 2 * first + 10, 20, 10 }, p.data<float>().ToArray());
    }
}
