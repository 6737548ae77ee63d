using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>SGD with global-norm clipping written inside its rule: one reduction over every tensor before any update.</summary>
[Optimizer]
public partial class GloballyClippedSgd
{
    [Hyper("[0, inf)")] float lr = 0.1f;
    [Hyper("(0, inf)")] float maxNorm = 1f;

    [Update]
    void Update(ref float p, float g)
    {
        float norm = Reduce.GlobalNorm(g);
        p -= lr * MathF.Min(1f, maxNorm / (norm + 1e-6f)) * g;
    }
}

/// <summary>Moves every element by the global sum and largest magnitude of the gradients: a probe of both.</summary>
[Optimizer]
public partial class GlobalProbe
{
    [Hyper("[0, inf)")] float lr = 1f;

    [Update]
    void Update(ref float p, float g)
    {
        p -= lr * (Reduce.GlobalSum(g) + 10 * Reduce.GlobalMaxAbs(g));
    }
}

/// <summary>Clipping each parameter group to its own norm: the group-scoped twin of <see cref="GloballyClippedSgd"/>.</summary>
[Optimizer]
public partial class GroupClippedSgd
{
    [Hyper("[0, inf)")] float lr = 0.1f;
    [Hyper("(0, inf)")] float maxNorm = 1f;

    [Update]
    void Update(ref float p, float g)
    {
        p -= lr * MathF.Min(1f, maxNorm / (Reduce.GroupNorm(g) + 1e-6f)) * g;
    }
}

/// <summary>Reductions over every tensor of a step (<c>Reduce.Global*</c>) against the same sums taken by hand or by libtorch.</summary>
public class GlobalReductionTests
{

    [Theory]
    [InlineData(0.5)]   // the clip binds
    [InlineData(1e6)]   // it does not
    public void Global_norm_clipping_in_a_rule_equals_libtorchs_clip_then_SGD(double maxNorm)
    {
        using var kept = KeptScalars.Rent();
        var ours = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(ours);
        using var opt = new GloballyClippedSgd(ours, lr: 0.1, maxNorm: maxNorm);
        for (int step = 1; step <= 5; step++)
        {
            TestData.SetGradients(ours, step);
            opt.step();
            TestData.SetGradients(reference, step);
            torch.nn.utils.clip_grad_norm_(reference, maxNorm);
            using (torch.no_grad())
                foreach (var p in reference) p.sub_(p.grad!.mul(kept[0.1]));
        }
        for (int k = 0; k < ours.Length; k++)
            Assert.True(ours[k].allclose(reference[k], rtol: 1e-12, atol: 1e-15), $"parameter {k}");
        // float64: the portable path, the one that reduces in float64 (the fused CPU path is float32's).
        Assert.EndsWith($"portable path for {ours.Length} of {ours.Length} parameters at the last step (Float64 on CPU, which the fused update does not take)", opt.FusedStatus);
    }

    [Fact]
    public void Global_sums_cover_the_tensors_stepped_and_only_those()
    {
        using var kept = KeptScalars.Rent();
        var parameters = TestData.Parameters(ScalarType.Float64);
        var before = TestData.Copies(parameters);
        TestData.SetGradients(parameters, 2);
        parameters[1].grad = null; // not stepped: neither moved nor counted
        var stepped = new[] { 0, 2, 3 };
        double sum = stepped.Sum(k => parameters[k].grad!.sum().item<double>());
        double maxAbs = stepped.Max(k => parameters[k].grad!.abs().max().item<double>());

        using var opt = new GlobalProbe(parameters, lr: 0.5);
        opt.step();
        foreach (var k in stepped)
            Assert.True(parameters[k].allclose(before[k].sub(kept[0.5 * (sum + 10 * maxAbs)]), rtol: 1e-13, atol: 0), $"parameter {k}");
        Assert.True(TestData.Identical(parameters[1], before[1]));
    }

    // float32: measured 3e-8; bfloat16: one rounding of each weight, measured 3.6e-3 (half an ulp at 1-2).
    [Fact]
    public void Float32_and_bfloat16_parameters_sum_their_parts_in_float64()
    {
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float32, 1e-5), (ScalarType.BFloat16, 1e-2) })
        {
            var exact = TestData.Parameters(ScalarType.Float64);
            var parameters = TestData.Parameters(dtype);
            using var reference = new GloballyClippedSgd(exact, lr: 0.1, maxNorm: 0.5);
            using var opt = new GloballyClippedSgd(parameters, lr: 0.1, maxNorm: 0.5);
            TestData.SetGradients(exact, 1);
            TestData.SetGradients(parameters, 1);
            reference.step();
            opt.step();
            for (int k = 0; k < parameters.Length; k++)
            {
                double error = (parameters[k].to(ScalarType.Float64) - exact[k]).abs().max().item<double>();
                Assert.True(error <= tolerance, $"{dtype} parameter {k}: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void Group_reductions_span_their_group_only()
    {
        using var kept = KeptScalars.Rent();
        // Two groups with equal hyperparameters (so only the group, not the options' values, can tell them apart).
        var ours = TestData.Parameters(ScalarType.Float64);
        var reference = TestData.Copies(ours);
        using var opt = new GroupClippedSgd(new[]
        {
            new GroupClippedSgd.ParamGroup(ours.Take(2), lr: 0.1, maxNorm: 0.5),
            new GroupClippedSgd.ParamGroup(ours.Skip(2), lr: 0.1, maxNorm: 0.5),
        });
        TestData.SetGradients(ours, 4);
        opt.step();
        TestData.SetGradients(reference, 4);
        foreach (var group in new[] { reference.Take(2).ToArray(), reference.Skip(2).ToArray() })
        {
            torch.nn.utils.clip_grad_norm_(group, 0.5);
            using (torch.no_grad())
                foreach (var p in group) p.sub_(p.grad!.mul(kept[0.1]));
        }
        for (int k = 0; k < ours.Length; k++)
            Assert.True(ours[k].allclose(reference[k], rtol: 1e-12, atol: 1e-15), $"parameter {k}");
    }

    /// <summary>
    /// The fused CPU path reduces over the step (and over each group) in phases: against the portable path on float32
    /// tensors that span several chunks, with a tensor left out of the step. Both sum in float32 per chunk or per tensor
    /// and then in double; 1e-6 relative bounds their different orders over 5 steps.
    /// </summary>
    [Theory]
    [InlineData("GloballyClippedSgd")]
    [InlineData("GlobalProbe")]
    [InlineData("GroupClippedSgd")]
    public void Fused_reductions_over_the_step_and_the_group_agree_with_the_portable_path(string name)
    {
        var shapes = new[] { new long[] { 70_000 }, new long[] { 33 }, new long[] { 0 }, new long[] { 40_001 }, new long[] { 3, 5 } };
        DeclaredOptimizer Create(Parameter[] ps, UpdateBackend backend)
        {
            var (first, rest) = (ps.Take(2), ps.Skip(2));
            DeclaredOptimizer o = name switch
            {
                "GloballyClippedSgd" => new GloballyClippedSgd(new[] { new GloballyClippedSgd.ParamGroup(first, maxNorm: 5), new GloballyClippedSgd.ParamGroup(rest, maxNorm: 5) }),
                "GlobalProbe" => new GlobalProbe(new[] { new GlobalProbe.ParamGroup(first, lr: 1e-4), new GlobalProbe.ParamGroup(rest, lr: 1e-4) }),
                _ => new GroupClippedSgd(new[] { new GroupClippedSgd.ParamGroup(first, maxNorm: 5), new GroupClippedSgd.ParamGroup(rest, maxNorm: 5) }),
            };
            o.Backend = backend;
            return o;
        }
        var fused = shapes.Select((s, k) => new Parameter(TestData.Normal(s, 30 + (ulong)k).to(ScalarType.Float32))).ToArray();
        var portable = TestData.Copies(fused);
        using var a = Create(fused, UpdateBackend.Fused);
        using var b = Create(portable, UpdateBackend.Portable);
        for (int step = 1; step <= 5; step++)
        {
            for (int k = 0; k < shapes.Length; k++)
            {
                // Tensor 1 sits out step 3: it is neither moved nor counted then.
                var g = step == 3 && k == 1 ? null : TestData.Normal(shapes[k], 100 * (ulong)step + (ulong)k).to(ScalarType.Float32);
                fused[k].grad = g;
                portable[k].grad = g?.clone();
            }
            a.step();
            b.step();
        }
        Assert.Contains("2 phases (reductions in passes of their own); reductions over the step's or group's tensors", a.FusedStatus);
        for (int k = 0; k < shapes.Length; k++)
        {
            if (fused[k].NumberOfElements == 0) continue;
            double error = (fused[k] - portable[k]).abs().max().item<float>() / Math.Max(1, portable[k].abs().max().item<float>());
            Assert.True(error <= 1e-6, $"{name} tensor {k}: off by {error:E2}");
        }
    }
}
