using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp.Modules;

namespace OptDsl.Runtime.Composition;

/// <summary>Routes a model's parameters into parameter groups, each with its own hyperparameters and schedules.</summary>
public static class ParameterGroups
{
    /// <summary>
    /// One group per entry of <paramref name="options"/>; <paramref name="route"/> gives each named parameter its group's
    /// index. Groups keep their order (empty ones included), so group indices given to schedules stay meaningful.
    /// </summary>
    public static List<ParamGroup<TOptions>> Route<TOptions>(
        IEnumerable<(string name, Parameter parameter)> namedParameters, Func<string, Parameter, int> route, params TOptions[] options)
        where TOptions : DeclaredOptions, new()
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Length == 0) throw new ArgumentException("Routing needs the options of at least one group.", nameof(options));
        var members = options.Select(_ => new List<Parameter>()).ToArray();
        foreach (var (name, parameter) in namedParameters)
        {
            int group = route(name, parameter);
            if (group < 0 || group >= members.Length)
                throw new ArgumentException($"The route sends parameter '{name}' to group {group}; there are {members.Length} groups (0 to {members.Length - 1}).", nameof(route));
            members[group].Add(parameter);
        }
        return members.Select((m, i) => new ParamGroup<TOptions>(m, options[i] ?? new TOptions())).ToList();
    }

    /// <summary>
    /// The usual weight-decay mask: group 0 holds the parameters that decay (by default those with two or more
    /// dimensions: weight matrices and embeddings) with <paramref name="options"/>; group 1 holds the rest (biases, norm
    /// gains) with the same options but hyperparameter <paramref name="weightDecay"/> set to 0.
    /// </summary>
    public static List<ParamGroup<TOptions>> WeightDecayMask<TOptions>(
        IEnumerable<(string name, Parameter parameter)> namedParameters, Func<string, Parameter, bool>? decays = null,
        string weightDecay = "weightDecay", TOptions? options = null)
        where TOptions : DeclaredOptions, new()
    {
        var decaying = new TOptions();
        if (options is not null) decaying.LoadStateDict(options);
        var flat = new TOptions();
        flat.LoadStateDict(decaying);
        flat[weightDecay] = 0;
        decays ??= static (_, p) => p.dim() >= 2;
        return Route(namedParameters, (name, p) => decays(name, p) ? 0 : 1, decaying, flat);
    }
}
