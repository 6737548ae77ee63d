using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>Routes given so far; finish with <see cref="Otherwise"/>, which takes every parameter no route took.</summary>
public sealed class RouteBuilder
{
    readonly List<(string Name, Parameter Parameter)> _parameters;
    readonly List<(string Name, Func<string, Parameter, bool> Where, Func<IReadOnlyList<(string name, Parameter parameter)>, optim.Optimizer> Create)> _routes = new();

    internal RouteBuilder(IEnumerable<(string name, Parameter parameter)> namedParameters)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        _parameters = namedParameters.Select(np => (np.name, np.parameter)).ToList();
        var seen = new Dictionary<IntPtr, string>();
        var names = new HashSet<string>();
        foreach (var (name, p) in _parameters)
        {
            if (p is null) throw new ArgumentException($"Parameter '{name}' is null.", nameof(namedParameters));
            if (!names.Add(name)) throw new ArgumentException($"Two parameters are named '{name}'.", nameof(namedParameters));
            if (seen.TryGetValue(p.Handle, out var first))
                throw new ArgumentException($"'{name}' and '{first}' are the same parameter; give each once.", nameof(namedParameters));
            seen[p.Handle] = name;
        }
    }

    /// <summary>Adds a route: parameters not taken by an earlier route that <paramref name="where"/> accepts.</summary>
    public RouteBuilder Route(string name, Func<string, Parameter, bool> where, Func<IReadOnlyList<(string name, Parameter parameter)>, optim.Optimizer> create)
    {
        ArgumentNullException.ThrowIfNull(where);
        CheckName(name);
        ArgumentNullException.ThrowIfNull(create);
        _routes.Add((name, where, create));
        return this;
    }

    /// <summary>Routes every parameter no earlier route took to <paramref name="create"/>'s optimizer, and builds the whole.</summary>
    public RoutedOptimizer Otherwise(string name, Func<IReadOnlyList<(string name, Parameter parameter)>, optim.Optimizer> create)
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(create);
        _routes.Add((name, static (_, _) => true, create));

        // Route everything first, so a bad predicate fails before any optimizer is created.
        var members = _routes.Select(_ => new List<(string name, Parameter parameter)>()).ToArray();
        foreach (var (pname, p) in _parameters)
            for (int r = 0; r < _routes.Count; r++)
                if (_routes[r].Where(pname, p))
                {
                    members[r].Add((pname, p));
                    break;
                }

        var routes = new List<Route>();
        try
        {
            for (int r = 0; r < _routes.Count; r++)
            {
                var (routeName, _, create2) = _routes[r];
                var taken = members[r];
                optim.Optimizer? optimizer = null;
                if (taken.Count > 0)
                {
                    optimizer = create2(taken) ?? throw new ArgumentException($"Route '{routeName}' created no optimizer.");
                    routes.Add(new Route(routeName, taken.Select(t => t.name).ToList(), optimizer));
                    CheckManages(routeName, optimizer, taken);
                }
                else routes.Add(new Route(routeName, Array.Empty<string>(), null));
            }
        }
        catch
        {
            foreach (var built in routes) built.Optimizer?.Dispose();
            throw;
        }
        return new RoutedOptimizer(routes.ToArray());
    }

    void CheckName(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A route needs a name.", nameof(name));
        if (name.Contains(',') || name.Contains(':')) throw new ArgumentException($"Route name '{name}' may not contain ',' or ':'.", nameof(name));
        if (_routes.Any(r => r.Name == name)) throw new ArgumentException($"There is already a route named '{name}'.", nameof(name));
    }

    /// <summary>An optimizer must manage exactly the parameters routed to it, or a parameter would be stepped twice or never.</summary>
    static void CheckManages(string route, optim.Optimizer optimizer, List<(string name, Parameter parameter)> taken)
    {
        var expected = taken.Select(t => t.parameter.Handle).ToHashSet();
        var managed = optimizer.parameters().Select(p => p.Handle).ToList();
        if (managed.Count != expected.Count || !managed.All(expected.Contains))
            throw new ArgumentException(
                $"Route '{route}' was given {taken.Count} parameters but its optimizer manages {managed.Count} others or more; create it over the parameters the route passes.");
    }
}
