using System;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>SGD scaled by the matrix view's shape: its only whole-tensor work is <c>Matrix.Rows()</c> and <c>Columns()</c>.</summary>
[Optimizer]
public partial class ShapeScaledSgd
{
    [Hyper("[0, inf)")] float lr = 0.1f;

    [Update]
    void Update(ref float p, float g)
    {
        p -= lr * MathF.Sqrt(Matrix.Rows() / Matrix.Columns()) * g;
    }
}

/// <summary>
/// A rule whose whole-tensor work is only the matrix view's shape is one fused pass, the shape read on the host per
/// tensor (the fuzzer found the generator failing on such a rule once the shape stopped blocking the fused path).
/// </summary>
public class ShapeOnlyRuleTests
{
    [Fact]
    public void The_shape_is_a_host_value_of_each_tensor_on_both_paths()
    {
        using var kept = KeptScalars.Rent();
        foreach (var backend in new[] { UpdateBackend.Fused, UpdateBackend.Portable })
        {
            var p = new Parameter(torch.zeros(new long[] { 8, 2 }));
            var q = new Parameter(torch.zeros(new long[] { 2, 3, 3 }));
            using var sgd = new ShapeScaledSgd(new[] { p, q }, lr: 1) { Backend = backend };
            p.grad = torch.ones(new long[] { 8, 2 });
            q.grad = torch.ones(new long[] { 2, 3, 3 });
            sgd.step();
            Assert.Equal(-2.0, p.detach().max().item<float>(), 6);                   // sqrt(8 / 2)
            Assert.Equal(-Math.Sqrt(2.0 / 9), q.detach().max().item<float>(), 6);    // sqrt(2 / 9)
            if (backend == UpdateBackend.Fused) Assert.StartsWith("CPU", sgd.FusedStatus);
        }
    }
}
