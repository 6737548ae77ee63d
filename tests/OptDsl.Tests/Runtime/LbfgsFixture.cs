using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace OptDsl.Tests.Runtime;

/// <summary>tests/fixtures/lbfgs.json: torch.optim.LBFGS runs written by tests/fixtures/make_lbfgs_fixture.py.</summary>
public sealed class LbfgsFixture
{
    /// <summary>What torch.optim had after one step.</summary>
    public sealed record Step(double Loss, double[] X, long FuncEvals, long NIter, int History);

    /// <summary>One run: the function, its start and split into parameters, the options, and every step.</summary>
    public sealed record Scenario(string Name, string Function, double[] Start, long[][] Shapes, bool StrongWolfe, double Lr, int MaxIter,
        int HistorySize, double ToleranceGrad, double ToleranceChange, IReadOnlyList<Step> Steps);

    public static readonly Lazy<LbfgsFixture> Instance = new(() => Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "lbfgs.json")));

    public required string Torch { get; init; }
    public required IReadOnlyList<Scenario> Scenarios { get; init; }

    public Scenario Find(string name) => Scenarios.Single(s => s.Name == name);

    static LbfgsFixture Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        static double[] Numbers(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();
        return new LbfgsFixture
        {
            Torch = root.GetProperty("torch").GetString()!,
            Scenarios = root.GetProperty("scenarios").EnumerateArray().Select(s => new Scenario(
                s.GetProperty("name").GetString()!,
                s.GetProperty("function").GetString()!,
                Numbers(s.GetProperty("start")),
                s.GetProperty("shapes").EnumerateArray().Select(shape => shape.EnumerateArray().Select(e => e.GetInt64()).ToArray()).ToArray(),
                s.GetProperty("strong_wolfe").GetBoolean(),
                s.GetProperty("lr").GetDouble(),
                s.GetProperty("max_iter").GetInt32(),
                s.GetProperty("history_size").GetInt32(),
                s.GetProperty("tolerance_grad").GetDouble(),
                s.GetProperty("tolerance_change").GetDouble(),
                s.GetProperty("steps").EnumerateArray().Select(r => new Step(
                    r.GetProperty("loss").GetDouble(), Numbers(r.GetProperty("x")), r.GetProperty("func_evals").GetInt64(),
                    r.GetProperty("n_iter").GetInt64(), r.GetProperty("history").GetInt32())).ToList())).ToList(),
        };
    }
}
