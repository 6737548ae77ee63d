using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>The runs the determinism tests compare bit for bit.</summary>
internal static class Determinism
{
    /// <summary>
    /// The parameters after stepping <paramref name="initial"/> with <paramref name="grads"/> (one array per step) on the
    /// fused path: by one optimizer over all of them (<paramref name="together"/>), or one optimizer per tensor.
    /// </summary>
    public static Tensor[] Run(Func<IEnumerable<Parameter>, DeclaredOptimizer> create, Tensor[] initial, Tensor[][] grads, bool together)
    {
        var ps = initial.Select(t => new Parameter(t.clone())).ToArray();
        var optimizers = together ? new[] { create(ps) } : ps.Select(p => create(new[] { p })).ToArray();
        foreach (var o in optimizers) o.Backend = UpdateBackend.Fused;
        foreach (var step in grads)
        {
            for (int k = 0; k < ps.Length; k++) ps[k].grad = step[k].clone();
            foreach (var o in optimizers) o.step();
        }
        foreach (var o in optimizers) o.Dispose();
        return ps.Select(p => p.detach().clone()).ToArray();
    }

    /// <summary>A float32 tensor's bits.</summary>
    public static int[] Bits(Tensor t) => t.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
}
