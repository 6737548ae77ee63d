using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp.Modules;

namespace OptDsl.Runtime.HandWritten;

/// <summary>What the hand-written optimizers check before a step changes anything.</summary>
internal static class StepChecks
{
    /// <summary>
    /// The parameters with a gradient, each with its group's options, after every group's options are validated
    /// (<paramref name="validate"/> gets the options and "parameter group i"), every gradient's shape is checked against
    /// its parameter, <paramref name="check"/> (if any) has passed for every parameter, and every gradient is finite.
    /// Throws before anything changes otherwise.
    /// </summary>
    public static List<(Parameter P, TOptions O)> Work<TOptions>(string name, IList<ParamGroup> groups, Action<TOptions, string> validate,
        Action<Parameter, TOptions>? check = null) where TOptions : OptimizerOptions
    {
        var work = new List<(Parameter P, TOptions O)>();
        for (int i = 0; i < groups.Count; i++)
        {
            var options = (TOptions)groups[i].Options;
            validate(options, $"parameter group {i}");
            foreach (var p in groups[i].Parameters.Where(p => p.grad is not null))
            {
                if (!p.grad!.shape.SequenceEqual(p.shape))
                    throw new InvalidOperationException($"{name}: a gradient has shape [{string.Join(", ", p.grad.shape)}] but its parameter [{string.Join(", ", p.shape)}].");
                check?.Invoke(p, options);
                work.Add((p, options));
            }
        }
        if (!Finite.All(work.Select(w => w.P.grad!)))
            throw new InvalidOperationException($"{name}: a gradient holds NaN or infinity; nothing was changed.");
        return work;
    }
}
