using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// The catalog against TorchSharp's built-in optimizers, a second reference, over 30 steps in float64. RAdam is left
/// out on purpose: TorchSharp 0.107 applies the learning rate twice in its rectified branch, so it is not a
/// reference (the PyTorch fixture checks RAdam instead).
/// </summary>
public class TorchSharpBuiltinTests
{
#pragma warning disable RS0030 // TorchSharp's own optimizers are the reference here; their step() still passes temporary Scalars (BannedSymbols.txt)
    public static IEnumerable<object[]> Pairs() => new (string Name, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> Ours, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> Theirs)[]
    {
        ("SGD", ps => new SGD(ps, lr: 0.05), ps => torch.optim.SGD(ps, 0.05)),
        ("SGD momentum nesterov weight decay", ps => new SGD(ps, lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true),
            ps => torch.optim.SGD(ps, 0.05, momentum: 0.9, weight_decay: 0.01, nesterov: true)),
        ("SGD momentum dampening maximize", ps => new SGD(ps, lr: 0.05, momentum: 0.5, dampening: 0.2, maximize: true),
            ps => torch.optim.SGD(ps, 0.05, momentum: 0.5, dampening: 0.2, maximize: true)),
        ("Adam", ps => new Adam(ps, lr: 0.01, weightDecay: 0.01), ps => torch.optim.Adam(ps, lr: 0.01, weight_decay: 0.01)),
        ("Adam amsgrad", ps => new Adam(ps, lr: 0.01, amsgrad: true), ps => torch.optim.Adam(ps, lr: 0.01, amsgrad: true)),
        ("AdamW", ps => new AdamW(ps, lr: 0.01, weightDecay: 0.1), ps => torch.optim.AdamW(ps, lr: 0.01, weight_decay: 0.1)),
        ("AdamW amsgrad", ps => new AdamW(ps, lr: 0.01, amsgrad: true), ps => torch.optim.AdamW(ps, lr: 0.01, weight_decay: 0.01, amsgrad: true)),
        ("Adagrad", ps => new Adagrad(ps, lr: 0.05, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1),
            ps => torch.optim.Adagrad(ps, lr: 0.05, lr_decay: 0.01, weight_decay: 0.01, initial_accumulator_value: 0.1)),
        ("RMSprop centered momentum", ps => new RMSprop(ps, lr: 0.01, momentum: 0.5, centered: true, weightDecay: 0.01),
            ps => torch.optim.RMSProp(ps, lr: 0.01, momentum: 0.5, centered: true, weight_decay: 0.01)),
        ("RMSprop", ps => new RMSprop(ps, lr: 0.01), ps => torch.optim.RMSProp(ps, lr: 0.01)),
        ("Adamax", ps => new Adamax(ps, lr: 0.01, weightDecay: 0.01), ps => torch.optim.Adamax(ps, lr: 0.01, weight_decay: 0.01)),
        ("NAdam", ps => new NAdam(ps, lr: 0.01), ps => torch.optim.NAdam(ps, lr: 0.01)),
        ("Adadelta", ps => new Adadelta(ps, lr: 0.5, weightDecay: 0.01), ps => torch.optim.Adadelta(ps, lr: 0.5, weight_decay: 0.01)),
        ("Rprop", ps => new Rprop(ps, lr: 0.01), ps => torch.optim.Rprop(ps, lr: 0.01)),
        ("Rprop etas step sizes maximize", ps => new Rprop(ps, lr: 0.02, etaMinus: 0.3, etaPlus: 1.5, stepSizeMin: 1e-3, stepSizeMax: 0.05, maximize: true),
            ps => torch.optim.Rprop(ps, lr: 0.02, etaminus: 0.3, etaplus: 1.5, min_step: 1e-3, max_step: 0.05, maximize: true)),
        ("ASGD", ps => new ASGD(ps, lr: 0.05), ps => torch.optim.ASGD(ps, lr: 0.05)),
        ("ASGD averaging decay", ps => new ASGD(ps, lr: 0.05, lambd: 0.01, alpha: 0.5, t0: 10, weightDecay: 0.01),
            ps => torch.optim.ASGD(ps, lr: 0.05, lambd: 0.01, alpha: 0.5, t0: 10, weight_decay: 0.01)),
    }.Select(p => new object[] { p.Name, p.Ours, p.Theirs });
#pragma warning restore RS0030

    /// <summary>Same equations in float64, differing only in operation order: agreement to 1e-11 relative (see the fixture tests).</summary>
    [Theory]
    [MemberData(nameof(Pairs))]
    public void Matches_TorchSharp_builtin_after_30_steps_in_float64(string name, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> ours, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> theirs) =>
        Compare(name, ours, theirs, ScalarType.Float64, 1e-11);

    /// <summary>
    /// In float32 our side takes the fused CPU update. Both round every operation in float32 in their own order; after
    /// 30 steps on parameters of order 1 that stays within a few 1e-6 (as against the float64 references), so 2e-5
    /// bounds it, while a wrong equation is off by 1e-4 or more.
    /// </summary>
    [Theory]
    [MemberData(nameof(Pairs))]
    public void Fused_CPU_update_matches_TorchSharp_builtin_after_30_steps_in_float32(string name, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> ours, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> theirs) =>
        Compare(name, ours, theirs, ScalarType.Float32, 2e-5);

    static void Compare(string name, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> ours, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> theirs,
        ScalarType dtype, double tolerance)
    {
        var a = TestData.Parameters(dtype);
        var b = TestData.Parameters(dtype);
        using var optA = ours(a);
        if (optA is OptDsl.Runtime.Core.DeclaredOptimizer declared && dtype == ScalarType.Float32) declared.Backend = OptDsl.Runtime.Core.UpdateBackend.Fused;
        using var optB = theirs(b);
        for (int step = 1; step <= 30; step++)
        {
            TestData.SetGradients(a, step);
            TestData.SetGradients(b, step);
            optA.step();
            optB.step();
        }
        for (int k = 0; k < a.Length; k++)
        {
            double difference = (a[k] - b[k]).abs().max().to(ScalarType.Float64).item<double>();
            double scale = b[k].abs().max().to(ScalarType.Float64).item<double>();
            Assert.True(difference <= tolerance * Math.Max(1, scale), $"{name} ({dtype}): tensor {k} differs by {difference:E3}");
        }
    }
}
