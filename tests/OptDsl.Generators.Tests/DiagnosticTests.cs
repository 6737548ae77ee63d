using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// Each invalid declaration gets its OPT diagnostic at the exact span marked <c>[|...|]</c> in the source, and no
/// other OPT diagnostic; the generator emits nothing for it and never throws.
/// </summary>
public class DiagnosticTests
{
    const string Header = "using System;\nusing OptDsl;\n";

    static string Optimizer(string members, string name = "Broken", string modifiers = "public partial class") =>
        Header + $"[Optimizer]\n{modifiers} {name}\n{{\n{members}\n}}\n";

    const string Rule = "[Update] void Update(ref float p, float g, int t) { p -= lr * g; }";

    public static IEnumerable<object[]> Cases() => new (string Id, string Source)[]
    {
        ("OPT0001", Header + "[Optimizer]\npublic class [|Broken|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n"),
        ("OPT0002", Header + "[Optimizer]\npublic partial class [|Broken|]\n{\n[Hyper] float lr = 1f;\n}\n"),
        ("OPT0003", Optimizer("[Hyper] float lr = 1f;\n" + Rule + "\n[Update] void [|Again|](ref float p, float g) { p -= g; }")),
        ("OPT0004", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(float [|p|], float g) { p -= lr * g; }")),
        ("OPT0004", Optimizer("[Hyper] float lr = 1f;\n[Update] int [|Update|](ref float p, float g) { p -= lr * g; return 0; }")),
        ("OPT0005", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { [|for (int i = 0; i < 2; i++) p -= lr * g;|] }")),
        ("OPT0005", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { if (g > 0) [|return;|] p -= lr * g; }")),
        ("OPT0006", Optimizer("[Hyper] float lr = 1f;\n[State] float m;\n[Update] void Update(ref float p, float g) { p -= [|m = g|]; }")),
        ("OPT0006", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g, int t) { int k = [|(int)g|]; p -= lr * g * k; }")),
        ("OPT0007", Optimizer("[Hyper] float lr = 1f;\nstatic float Helper(float x) => x;\n[Update] void Update(ref float p, float g) { p -= lr * [|Helper(g)|]; }")),
        ("OPT0008", Optimizer("[Hyper] [|string|] name = \"x\";\n[Hyper] float lr = 1f;\n" + Rule)),
        ("OPT0008", Optimizer("[Hyper] [|int|] lr = 1;\n[Update] void Update(ref float p, float g) { p -= lr * g; }")),
        ("OPT0009", Optimizer("[Hyper] float lr = 1f;\n[State] [|double|] m;\n" + Rule)),
        ("OPT0010", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { [|lr|] = 2f; p -= lr * g; }")),
        ("OPT0011", Optimizer("[Hyper] float lr = 1f;\n[Hyper] float [|spec|] = 1f;\n" + Rule.Replace("lr * g", "lr * spec * g"))),
        ("OPT0011", Optimizer("[Hyper] float lr = 1f;\n[Hyper] float [|step|] = 1f;\n" + Rule.Replace("lr * g", "lr * step * g"))),
        ("OPT0011", Optimizer("[Hyper] float lr = 1f;\n[State] float [|step|];\n[Update] void Update(ref float p, float g) { step = g; p -= lr * step; }")),
        ("OPT0011", Optimizer("[Hyper] float lr = 1f;\nint [|OptionsOf|] = 0;\n" + Rule)),
        ("OPT0012", Optimizer("[Hyper] float lr = [|MathF.Sqrt(2f)|];\n" + Rule)),
        ("OPT0013", Optimizer("[Hyper([|\"[0, 1\"|])] float lr = 0.5f;\n" + Rule)),
        ("OPT0014", Optimizer("[Hyper(\"[0, 1)\")] float lr = [|1.5f|];\n" + Rule)),
        ("OPT0015", Header + "[Optimizer]\npublic partial class Broken[|<T>|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n"),
        ("OPT0015", Header + "public partial class Outer\n{\n[Optimizer]\npublic partial class [|Broken|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n}\n"),
        ("OPT0015", Header + "[Optimizer]\npublic abstract partial class [|Broken|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n"),
        ("OPT0015", Header + "[Optimizer]\npublic partial record [|Broken|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n"),
        ("OPT0016", Header + "public class Base { }\n[Optimizer]\npublic partial class Broken : [|Base|]\n{\n[Hyper] float lr = 1f;\n" + Rule + "\n}\n"),
        ("OPT0017", Optimizer("[Hyper] float lr = 1f;\nfloat scratch = 1f;\n[Update] void Update(ref float p, float g) { p -= lr * [|scratch|] * g; }")),
        ("OPT0018", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g, int t) { [|t|] = 2; p -= lr * g; }")),
        ("OPT0019", Optimizer("[Hyper] float lr = 1f;\n[State(InitFrom = \"missing\")] float [|m|];\n[Update] void Update(ref float p, float g) { m = g; p -= lr * m; }")),
        ("OPT0019", Optimizer("[Hyper] float lr = 1f;\n[State(OnlyIf = \"missing\")] float [|m|];\n[Update] void Update(ref float p, float g) { p -= lr * g; }")),
        ("OPT0020", Optimizer("[Hyper] float lr = 1f;\n[Hyper] bool on;\n[State(OnlyIf = nameof(on))] float m;\n[Update] void Update(ref float p, float g) { [|m|] = g; p -= lr * g; }")),
        ("OPT0020", Optimizer("[Hyper] float lr = 1f;\n[Hyper] float decay;\n[State(OnlyIf = nameof(decay))] float m;\n[Update] void Update(ref float p, float g) { if (decay == 0) { m = g; } p -= lr * [|m|]; }").Replace("m = g;", "p -= g;")),
        ("OPT0021", Optimizer("[Hyper] float lr = 1f;\n[ScalarState] double count;\n[Update] void Update(ref float p, float g) { [|count = g|]; p -= lr * g; }")),
        ("OPT0021", Optimizer("[Hyper] float lr = 1f;\n[ScalarState] double count;\n[Update] void Update(ref float p, float g) { if (g > 0) [|count += 1|]; p -= lr * g; }")),
        ("OPT0022", Optimizer("[Hyper] float lr = 1f;\n[Hyper, State] float [|x|];\n" + Rule)),
        ("OPT0023", Optimizer("[Hyper] float lr = 1f;\n[Hyper] static float [|scale|] = 1f;\n" + Rule)),
        ("OPT0011", Optimizer("[Hyper] float lr = 1f;\npublic new void [|Dispose|]() { }\n" + Rule)),
        ("OPT0019", Optimizer("[Hyper] float lr = 1f;\n[State(Init = StateInit.Parameter, InitFrom = nameof(lr))] float [|z|];\n[Update] void Update(ref float p, float g) { z -= g; p = lr * z; }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { p -= [|Reduce.Norm(lr)|] * g; }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { if (g > 0) { p -= lr * [|Reduce.Mean(g)|]; } }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { p -= lr * (p > 0 ? [|Reduce.Max(g)|] : g); }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { p -= lr * [|Matrix.NewtonSchulz(g, 5, p, 1f, 1f)|]; }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { p -= g * (g > 0 ? [|Reduce.GlobalNorm(g)|] : lr); }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { p -= g * [|Matrix.RowMean(lr)|]; }")),
        ("OPT0026", Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { if (g > 0) { p -= lr * [|Matrix.NewtonSchulz(g, 5)|]; } }")),
        ("OPT0027", Optimizer("[Hyper] float lr = 1f;\n[State(Shape = StateShape.Rows)] float r;\n[Update] void Update(ref float p, float g) { [|r = g|]; p -= lr * r * g; }")),
        ("OPT0027", Optimizer("[Hyper] float lr = 1f;\n[State(Shape = StateShape.Rows)] float r;\n[Update] void Update(ref float p, float g) { [|r = Matrix.ColumnMean(g)|]; p -= lr * r * g; }")),
        ("OPT0019", Optimizer("[Hyper] float lr = 1f;\n[State(Shape = StateShape.Columns, Init = StateInit.FirstGradient)] float [|c|];\n[Update] void Update(ref float p, float g) { c = Matrix.ColumnMean(g); p -= lr * c * g; }")),
        ("OPT0024", Optimizer("[Hyper] float lr = 1f;\n[State] float [|m|];\n[Update] void Update(ref float p, float g) { p -= lr * (g + m); }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update] void Update(ref float p, float g) { p -= lr * g / (h + 1); }\n[Refresh] void [|Refresh|](ref float e) { h = e; }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update] void Update(ref float p, float g) { p -= lr * g / (h + 1); }\n[Refresh] void [|Refresh|](float e, int t) { h = e; }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update] void Update(ref float p, float g) { p -= lr * g / (h + 1); }\n[Refresh] void [|Refresh|](float e) { h = Reduce.Mean(e); }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update] void Update(ref float p, float g) { p -= lr * g / (h + 1); }\n[Refresh] void Refresh(float e) { h = e; }\n[Refresh] void [|Again|](float e) { h = 2 * e; }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State(Init = StateInit.Parameter)] float z;\n[Update] void Update(ref float p, float g) { p -= lr * (g + z); }\n[Refresh] void [|Refresh|](float e) { z = e; }")),
        ("OPT0028", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update, Refresh] void [|Update|](ref float p, float g) { h = g; p -= lr * g; }")),
        ("OPT0010", Optimizer("[Hyper] float lr = 1f;\n[State] float h;\n[Update] void Update(ref float p, float g) { p -= lr * g / (h + 1); }\n[Refresh] void Refresh(float e) { h = e; [|lr|] = e; }")),
    }.Select(c => new object[] { c.Id, c.Source });

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_invalid_declaration_gets_its_diagnostic_at_the_offending_span(string id, string markedSource)
    {
        var (source, span) = Unmark(markedSource);
        var run = GeneratorHarness.Generate(source);

        var ours = run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("OPT")).ToList();
        var diagnostic = Assert.Single(ours);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(source.Substring(span.Start, span.Length), source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.Equal(span, diagnostic.Location.SourceSpan);
        // With an error, the class gets nothing or (where only its rule is wrong) its surface alone, which compiles.
        if (diagnostic.Severity == DiagnosticSeverity.Error && run.Result.GeneratedSources.Any(s => s.HintName.Contains("Broken")))
        {
            Assert.Contains("update rule has errors", run.Generated(run.Result.GeneratedSources.Single(s => s.HintName.Contains("Broken")).HintName));
            Assert.DoesNotContain(run.Output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error && !d.Location.IsInSource);
            Assert.DoesNotContain(run.Output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath != "Declaration0.cs");
        }
    }

    [Fact]
    public void Every_message_names_the_offending_thing()
    {
        var run = GeneratorHarness.Generate(Optimizer("[Hyper] float lr = 1f;\n[Update] void Update(ref float p, float g) { lr = 2f; p -= lr * g; }"));
        var message = Assert.Single(run.GeneratorDiagnostics).GetMessage();
        Assert.Contains("'lr'", message);
        Assert.Contains("read-only", message);
    }

    [Fact]
    public void State_kept_as_it_started_from_the_parameter_is_an_anchor_not_a_mistake()
    {
        // DoG's initial weights: read, never written, and neither OPT0024 nor the compiler's CS0649 is reported.
        var run = GeneratorHarness.Generate(Optimizer(
            "[Hyper] float lr = 1f;\n[State(Init = StateInit.Parameter)] float x0;\n[Update] void Update(ref float p, float g) { p -= lr * (g + p - x0); }", name: "Anchored"));
        Assert.Empty(run.GeneratorDiagnostics);
        var problems = run.CompilerDiagnostics();
        Assert.True(problems.IsEmpty, string.Join("\n", problems.Take(20)));
    }

    [Fact]
    public void Overriding_a_member_of_the_runtime_base_class_is_not_a_clash()
    {
        var run = GeneratorHarness.Generate(Optimizer(
            "[Hyper] float lr = 1f;\n" + Rule + "\n/// <inheritdoc/>\nprotected override void Dispose(bool disposing) { base.Dispose(disposing); }", name: "Extended"));
        Assert.Empty(run.GeneratorDiagnostics);
        var problems = run.CompilerDiagnostics();
        Assert.True(problems.IsEmpty, string.Join("\n", problems.Take(20)));
    }

    static (string Source, TextSpan Span) Unmark(string marked)
    {
        int start = marked.IndexOf("[|");
        int end = marked.IndexOf("|]");
        Assert.True(start >= 0 && end > start, "the test source must mark the expected span with [| |]");
        var source = marked.Remove(end, 2).Remove(start, 2);
        return (source, new TextSpan(start, end - start - 2));
    }
}
