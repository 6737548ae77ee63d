using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>Routes a model's parameters to different optimizers, combined into one <see cref="RoutedOptimizer"/>.</summary>
/// <example><code>
/// using var optimizer = model.named_parameters()
///     .Route("muon", Routing.Matrices(except: new[] { "embed", "head" }), ps => new Muon(ps, lr: 0.02))
///     .Otherwise("adamw", ps => new AdamW(ParameterGroups.WeightDecayMask&lt;AdamW.Options&gt;(ps), lr: 3e-4));
/// </code></example>
public static class Routing
{
    /// <summary>Starts routing <paramref name="namedParameters"/>: the parameters <paramref name="where"/> accepts go to <paramref name="create"/>'s optimizer.</summary>
    public static RouteBuilder Route(this IEnumerable<(string name, Parameter parameter)> namedParameters, string name,
        Func<string, Parameter, bool> where, Func<IReadOnlyList<(string name, Parameter parameter)>, optim.Optimizer> create) =>
        new RouteBuilder(namedParameters).Route(name, where, create);

    /// <summary>
    /// Parameters with two or more dimensions whose names contain none of <paramref name="except"/> (ordinal,
    /// case-insensitive): the hidden weight matrices, when embeddings and the output head are named in
    /// <paramref name="except"/>.
    /// </summary>
    public static Func<string, Parameter, bool> Matrices(params string[] except) =>
        (name, p) => p.dim() >= 2 && !except.Any(e => name.Contains(e, StringComparison.OrdinalIgnoreCase));
}
