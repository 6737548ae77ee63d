using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace OptDsl.Tests.Catalog;

/// <summary>tests/fixtures/trajectories.json, written by tests/fixtures/make_fixtures.py on a machine with PyTorch.</summary>
public sealed class ReferenceFixture
{
    public sealed record Case(string Optimizer, string Name, string Reference, IReadOnlyDictionary<string, double> Hypers,
        IReadOnlyDictionary<int, double[][]> Expected);

    public static readonly Lazy<ReferenceFixture> Instance = new(() => Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "trajectories.json")));

    public required string Torch { get; init; }
    public required int Steps { get; init; }
    public required IReadOnlyList<Case> Cases { get; init; }

    public Case Find(string optimizer, string name) => Cases.Single(c => c.Optimizer == optimizer && c.Name == name);

    public static ReferenceFixture Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        var cases = root.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("optimizer").GetString()!,
            c.GetProperty("case").GetString()!,
            c.GetProperty("reference").GetString()!,
            c.GetProperty("hypers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
            {
                JsonValueKind.True => 1.0,
                JsonValueKind.False => 0.0,
                _ => p.Value.GetDouble(),
            }),
            c.GetProperty("expected").EnumerateObject().ToDictionary(
                p => int.Parse(p.Name),
                p => p.Value.EnumerateArray().Select(t => t.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray())))
            .ToList();
        return new ReferenceFixture
        {
            Torch = root.GetProperty("torch").GetString()!,
            Steps = root.GetProperty("steps").GetInt32(),
            Cases = cases,
        };
    }
}
