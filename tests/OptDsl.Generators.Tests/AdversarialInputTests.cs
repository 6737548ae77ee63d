using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// Inputs an adversarial fuzz driver found: deep nesting, long else-if chains, names C# or the generated class
/// reserve, unusual line terminators, user constructors, classes whose names differ only in case. Each must end in
/// code that compiles or in an OPT diagnostic — never a crashed or stalled compiler, and never a silent skip.
/// </summary>
public class AdversarialInputTests
{
    const string Usings = "using System;\nusing OptDsl;\n";

    static string Rule(string body, string members = "[Hyper] float lr = 0.1f;") =>
        Usings + "[Optimizer] public partial class Deep { " + members + " [State] float m; [Update] void Update(ref float p, float g) { m = g; " + body + " } }";

    /// <summary>The outcome every input must have: an OPT error, or generated code that compiles without warnings.</summary>
    static GeneratorHarness.Run CodeOrOptError(string source)
    {
        var run = GeneratorHarness.Generate(source);
        Assert.Null(run.Result.Exception);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "OPT0025");
        if (!run.GeneratorDiagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            Assert.Empty(run.CompilerDiagnostics());
        return run;
    }

    static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n));

    [Theory]
    [InlineData("casts")]
    [InlineData("ifs")]
    [InlineData("ternary")]
    [InlineData("sum")]
    [InlineData("parentheses")]
    public void Deep_nesting_gives_a_diagnostic_at_the_limit_instead_of_taking_the_compiler_down(string shape)
    {
        const int n = 6000;
        var body = shape switch
        {
            "casts" => "p -= " + Repeat("(float)", n) + "g;",
            "ifs" => Repeat("if (g > 0) { ", n / 2) + "p -= g;" + Repeat(" }", n / 2),
            "ternary" => "p -= " + Repeat("g > 0 ? g : ", n) + "g;",
            "sum" => "p -= " + string.Join(" + ", Enumerable.Repeat("g", n)) + ";",
            _ => "p -= " + Repeat("(", n) + "g" + Repeat(")", n) + ";",
        };
        var run = CodeOrOptError(Rule(body));
        var deep = Assert.Single(run.GeneratorDiagnostics, d => d.Id == "OPT0029");
        Assert.Contains("nests", deep.GetMessage());
        Assert.Equal("Declaration0.cs", deep.Location.GetLineSpan().Path);
    }

    [Fact]
    public void A_long_else_if_chain_gives_a_diagnostic_and_a_short_one_compiles()
    {
        string Chain(int n) => string.Concat(Enumerable.Range(0, n).Select(i => $"if (g > {i}) p -= {i} * g; else ")) + "p -= g;";
        Assert.Contains(CodeOrOptError(Rule(Chain(6000))).GeneratorDiagnostics, d => d.Id == "OPT0029");
        var run = CodeOrOptError(Rule(Chain(40)));
        Assert.Empty(run.GeneratorDiagnostics);
    }

    /// <summary>
    /// The generator's work grows linearly with the rule: the generated source of a chain twice as long is about twice as
    /// large (deep chains once cost quadratic text — indentation — and cubic time), and a chain at the nesting limit
    /// takes seconds, not minutes. The time bound is loose on purpose (it guards a blow-up, not a speed).
    /// </summary>
    [Fact]
    public void Generated_source_grows_linearly_with_an_else_if_chain()
    {
        string Chain(int n) => string.Concat(Enumerable.Range(0, n).Select(i => $"if (g > {i}) p -= {i} * g; else ")) + "p -= g;";
        int Size(int n) => CodeOrOptError(Rule(Chain(n))).Result.GeneratedSources.Single(s => s.HintName == "Deep.g.cs").SourceText.Length;
        double ratio = (double)Size(60) / Size(30);
        Assert.InRange(ratio, 1.5, 2.3);
        var watch = Stopwatch.StartNew();
        CodeOrOptError(Rule(Chain(60)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"a 60-branch chain took {watch.Elapsed}");
    }

    [Theory]
    [InlineData("\u2028")]
    [InlineData("\u2029")]
    [InlineData("\u0085")]
    [InlineData("\r")]
    public void Unusual_line_terminators_in_a_rule_keep_the_generated_docs_comments(string terminator)
    {
        var source = Usings + "[Optimizer] public partial class Lines { [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) {"
                     + terminator + "p -= lr * g; // step" + terminator + "p -= 0f;" + terminator + "} }";
        CodeOrOptError(source);
    }

    [Theory]
    [InlineData("State")]
    [InlineData("Options")]
    [InlineData("ParamGroup")]
    [InlineData("Declaration")]
    public void A_class_named_like_a_generated_member_gets_OPT0011(string name)
    {
        var run = CodeOrOptError(Usings + $"[Optimizer] public partial class {name} {{ [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) {{ p -= lr * g; }} }}");
        var clash = Assert.Single(run.GeneratorDiagnostics, d => d.Id == "OPT0011");
        Assert.Contains(name, clash.GetMessage());
    }

    [Fact]
    public void A_class_named_var_gets_OPT0011()
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class var { [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) { p -= lr * g; } }");
        Assert.Contains(run.GeneratorDiagnostics, d => d.Id == "OPT0011");
    }

    [Theory]
    [InlineData("@class", "lr")]
    [InlineData("Keywords", "@params")]
    [InlineData("Keywords", "@int")]
    [InlineData("Keywords", "@event")]
    public void Keywords_as_class_or_hyperparameter_names_generate_code_that_compiles(string className, string hyper)
    {
        var run = CodeOrOptError(Usings + $"[Optimizer] public partial class {className} {{ [Hyper] float {hyper} = 0.1f; [Update] void Update(ref float p, float g) {{ p -= {hyper} * g; }} }}");
        Assert.Empty(run.GeneratorDiagnostics);
    }

    [Fact]
    public void A_hyperparameter_named_options_gets_OPT0011()
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Named { [Hyper] float lr = 0.1f; [Hyper] float options = 1f; [Update] void Update(ref float p, float g) { p -= lr * options * g; } }");
        Assert.Contains(run.GeneratorDiagnostics, d => d.Id == "OPT0011");
    }

    [Fact]
    public void A_state_named_state_gets_OPT0011()
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Named { [Hyper] float lr = 0.1f; [State] float state; [Update] void Update(ref float p, float g) { state = g; p -= lr * state; } }");
        Assert.Contains(run.GeneratorDiagnostics, d => d.Id == "OPT0011");
    }

    [Theory]
    [InlineData("public Ctor() { }")]
    [InlineData("public Ctor(System.Collections.Generic.IEnumerable<TorchSharp.Modules.Parameter> parameters, double rate) : this(parameters, lr: rate) { }")]
    [InlineData("public Ctor(System.Collections.Generic.IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr = 0.1) : base(null!, null!) { }")]
    public void A_constructor_that_clashes_with_the_generated_ones_gets_OPT0030(string constructor)
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Ctor { [Hyper] float lr = 0.1f; " + constructor + " [Update] void Update(ref float p, float g) { p -= lr * g; } }");
        var d = Assert.Single(run.GeneratorDiagnostics, d => d.Id == "OPT0030");
        Assert.Equal("Declaration0.cs", d.Location.GetLineSpan().Path);
    }

    [Fact]
    public void A_constructor_that_calls_a_generated_one_is_fine()
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Ctor { [Hyper] float lr = 0.1f; /// <summary>Over one parameter.</summary>\n public Ctor(TorchSharp.Modules.Parameter single) : this(new[] { single }) { } [Update] void Update(ref float p, float g) { p -= lr * g; } }");
        Assert.Empty(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Two_optimizers_whose_names_differ_only_in_case_both_generate()
    {
        var run = CodeOrOptError(Usings + """
            namespace N
            {
                [Optimizer] public partial class Foo { [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) { p -= lr * g; } }
                [Optimizer] public partial class foo { [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) { p -= 2 * lr * g; } }
            }
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(2, run.Result.GeneratedSources.Count(s => s.HintName.StartsWith("N.", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public void Optimizer_on_two_parts_of_one_class_generates_once()
    {
        var run = GeneratorHarness.Generate(Usings + """
            [Optimizer] public partial class Twice { [Hyper] float lr = 0.1f; [Update] void Update(ref float p, float g) { p -= lr * g; } }
            [Optimizer] public partial class Twice { }
            """);
        Assert.Null(run.Result.Exception);
        Assert.Single(run.Result.GeneratedSources, s => s.HintName.StartsWith("Twice", StringComparison.Ordinal));
        Assert.Contains(run.Output.GetDiagnostics(), d => d.Id == "CS0579");
    }

    [Theory]
    [InlineData("[Hyper(\"(0, inf)\")] double eps = 1e-50;")]
    [InlineData("[Hyper(\"(0, inf)\")] double eps = 1e-40;")]
    [InlineData("[Hyper] double eps = 1e300;")]
    [InlineData("[Hyper(\"[0, 1)\")] double eps = 0.99999999999;")]
    public void A_default_float32_cannot_hold_gets_OPT0014(string hyper)
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Tiny { [Hyper] float lr = 0.1f; " + hyper + " [Update] void Update(ref float p, float g) { p -= lr * g / (1 + (float)eps); } }");
        Assert.Contains("float32 makes it", Assert.Single(run.GeneratorDiagnostics, d => d.Id == "OPT0014").GetMessage());
    }

    [Fact]
    public void A_char_default_is_the_number_CSharp_makes_of_it()
    {
        var run = CodeOrOptError(Usings + "[Optimizer] public partial class Chars { [Hyper] float lr = 'a'; [Update] void Update(ref float p, float g) { p -= lr * g; } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains("double lr = 97.0", run.Result.GeneratedSources.Single(s => s.HintName == "Chars.g.cs").SourceText.ToString());
    }
}
