using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// A declaration whose rule is wrong still gets its constructors, options and state, so that the code that uses it
/// compiles and the rule's own error is the only one: no cascade of missing constructors at every call site.
/// </summary>
public class SurfaceTests
{
    const string Use = """

        public static class Use
        {
            public static object Make(System.Collections.Generic.IEnumerable<TorchSharp.Modules.Parameter> ps) =>
                new AdamAtan2(ps, lr: 1e-3, beta2: 0.99) { Backend = OptDsl.Runtime.Core.UpdateBackend.Portable };
            public static double? Beta(AdamAtan2.Options o) => o.Beta2;
        }
        """;

    static string Declaration(string rule) => "using System;\nusing OptDsl;\n" + $$"""
        [Optimizer]
        public partial class AdamAtan2
        {
            [Hyper("[0, inf)")] float lr = 1e-3f;
            [Hyper("[0, 1)")] float beta1 = 0.9f, beta2 = 0.999f;
            [State] float m, v;
            [Update]
            void Update(ref float p, float g, int t)
            {
                m = beta1 * m + (1 - beta1) * g;
                v = beta2 * v + (1 - beta2) * g * g;
                {{rule}}
            }
        }
        """ + Use;

    static Diagnostic[] Errors(GeneratorHarness.Run run) =>
        run.GeneratorDiagnostics.Concat(run.Output.GetDiagnostics()).Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();

    [Fact]
    public void A_rule_with_an_OPT_error_leaves_only_that_error()
    {
        var run = GeneratorHarness.Generate(Declaration("p -= lr * m / MathF.Cbrt(v);"));
        var error = Assert.Single(Errors(run));
        Assert.Equal("OPT0007", error.Id);
        Assert.Contains("'MathF.Cbrt' is not a function an update rule can call; it can call Sqrt, Abs", error.GetMessage());
    }

    [Fact]
    public void A_rule_with_a_CSharp_error_leaves_only_that_error()
    {
        var run = GeneratorHarness.Generate(Declaration("p -= lr * m / undefinedThing;"));
        var error = Assert.Single(Errors(run));
        Assert.Equal("CS0103", error.Id);
    }

    [Fact]
    public void A_declaration_without_an_update_method_still_has_its_constructors()
    {
        var source = "using System;\nusing OptDsl;\n[Optimizer] public partial class AdamAtan2 { [Hyper] float lr = 1e-3f; [Hyper] float beta2 = 0.999f; }" + Use;
        var run = GeneratorHarness.Generate(source);
        var error = Assert.Single(Errors(run));
        Assert.Equal("OPT0002", error.Id);
    }

    [Fact]
    public void A_declaration_whose_members_are_wrong_gets_nothing()
    {
        // A hyperparameter of a type no rule can use: the surface itself would be wrong, so there is none.
        var source = "using System;\nusing OptDsl;\n[Optimizer] public partial class AdamAtan2 { [Hyper] float lr = 1e-3f; [Hyper] string beta2 = \"x\"; [Update] void Update(ref float p, float g) { p -= lr * g; } }";
        var run = GeneratorHarness.Generate(source);
        Assert.Equal("OPT0008", Assert.Single(run.GeneratorDiagnostics).Id);
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName == "AdamAtan2.g.cs");
    }
}
