using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp.Modules;

namespace OptDsl.Optimizers;

/// <summary>What the schedule-free optimizers share to swap their average in: x from y and z.</summary>
internal static class ScheduleFreeAverage
{
    /// <summary>
    /// Puts <c>x = (y - (1 - β) z) / β = lerp(y, z, 1 - 1/β)</c> into every parameter that has taken a step, through
    /// <paramref name="swap"/>, in the state's precision (float32 for half-precision parameters); β is each parameter's
    /// group's interpolation weight, read before anything is swapped.
    /// </summary>
    public static IDisposable SwapIn(EvaluationSwap swap, IEnumerable<(IEnumerable<Parameter> Parameters, double Beta)> groups,
        Func<Parameter, (TorchSharp.torch.Tensor Z, long Step)> state)
    {
        var beta = new Dictionary<IntPtr, double>();
        var parameters = new List<Parameter>();
        foreach (var (ps, b) in groups)
            foreach (var p in ps)
            {
                beta[p.Handle] = b;
                parameters.Add(p);
            }
        return swap.SwapIn(parameters, p =>
        {
            var (z, step) = state(p);
            return step == 0 ? null : OptDsl.Runtime.Backends.Portable.TensorMath.Lerp(p.detach().to(z.dtype), z, 1 - 1 / beta[p.Handle]);
        });
    }
}
