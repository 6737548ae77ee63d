using System.Linq;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>Code as an IDE sees it while a person types: the generator never throws and never adds noise to C#'s errors.</summary>
public class RobustnessTests
{
    [Theory]
    [InlineData("[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= ")]
    [InlineData("[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= lr * undefinedThing; } }")]
    [InlineData("[Optimizer] public partial class A { [Hyper] float lr = ; [Update] void Update(ref float p, float g) { p -= lr * g; } }")]
    [InlineData("[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= lr * g }")]
    [InlineData("[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= MathF.Nope(g); } }")]
    [InlineData("[Optimizer] public partial class A { [Hyper] Missing lr; [Update] void Update(ref float p, float g) { p -= g; } }")]
    [InlineData("[Optimizer] public partial class A { [Update] void Update(ref float p, float g) { Update(ref p, g); } }")]
    [InlineData("[Optimizer] public partial class A : IMissing { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= lr * g; } }")]
    [InlineData("[Optimizer] partial class")]
    // Two parts that declare the same state: the body reads members C# cannot tell apart.
    [InlineData("[Optimizer] public partial class A { [State] float m; [Update] void Update(ref float p, float g) { m = g; p -= m; } }\n[Optimizer] public partial class A { [State] float m; }")]
    public void Half_typed_declarations_never_crash_the_generator(string body)
    {
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n" + body);
        Assert.Null(run.Result.Exception);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "OPT0025");
        var compilerErrors = run.Output.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        Assert.True(compilerErrors.Any() || run.GeneratorDiagnostics.Any(), "an invalid declaration must produce an error");
    }

    [Fact]
    public void A_body_with_CSharp_errors_gets_only_the_compiler_errors()
    {
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= lr * undefinedThing; } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains(run.Output.GetDiagnostics(), d => d.Id == "CS0103");
    }

    [Theory]
    [InlineData("[Hyper] float lr = 1f; [State] float lr;")]
    [InlineData("[Hyper] float lr = 1f; void Helper(Missing m) { }")]
    [InlineData("[Hyper] float lr = 1f; [System.ComponentModel.TypeConverter(typeof(Missing))] float unused;")]
    [InlineData("[Hyper] float lr = 1f; Missing Helper() => default;")]
    public void Members_CSharp_rejects_leave_the_class_to_the_compiler(string members)
    {
        // The parser asks the compiler about the members only where its own look finds room for such an error.
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { " + members + " [Update] void Update(ref float p, float g) { p -= lr * g; } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName == "A.g.cs");
        Assert.Contains(run.Output.GetDiagnostics(), d => d.Id is "CS0102" or "CS0246");
    }

    [Theory]
    [InlineData("float u; if (g > 0) u = g; p -= lr * u;")]
    [InlineData("float u = lr * (MathF.Sign(u) + p); p -= u;")]
    public void A_local_read_before_it_is_assigned_gets_only_the_compiler_error(string body)
    {
        // Nothing in the operation tree marks this error; the parser's own check sends the body to the compiler.
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { " + body + " } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal("CS0165", Assert.Single(run.Output.GetDiagnostics(), d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).Id);
    }

    /// <summary>
    /// C# counts a local assigned on the only arm a constant condition can take; the generator once failed on such a
    /// rule (OPT0025). The rule must generate code that compiles and means the arm taken.
    /// </summary>
    [Theory]
    [InlineData("float x; if (true) x = 1f; p -= lr * x * g;", "p -= lr * x * g;")]
    [InlineData("float x; if (1 > 0) x = 1f; else { } p -= lr * x * g;", "p -= lr * x * g;")]
    [InlineData("float x; if (false) { x = 3f; } else x = 2f; p -= lr * x * g;", "x = 2f;")]
    public void A_constant_condition_is_its_taken_arm(string body, string kept)
    {
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { " + body + " } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        // The code, without the documentation and the declaration's source, which quote the rule as written.
        var generated = string.Concat(run.Output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs")).Select(t => System.Text.RegularExpressions.Regex.Replace(
            t.ToString(), @"\[global::OptDsl\.DeclarationSource\(.*?""\)\]", "", System.Text.RegularExpressions.RegexOptions.Singleline)));
        var code = string.Join("\n", generated.Split('\n').Where(l => !l.TrimStart().StartsWith("///")));
        Assert.Contains("// " + kept, code);
        Assert.DoesNotContain("x = 3f", code);
    }

    /// <summary>
    /// Matrix work in every place a rule may put it, and shape alone: the generator once failed on a rule whose only
    /// whole-tensor work was <c>Matrix.Rows()</c> (found by the fuzzer), and a Newton–Schulz result in a per-element
    /// condition needs its arguments' slots like one in an assignment. Each must generate code that compiles.
    /// </summary>
    [Theory]
    [InlineData("p -= lr * MathF.Sqrt(Matrix.Rows() / Matrix.Columns()) * g;")]
    [InlineData("if (Matrix.NewtonSchulz(g, 5) > 0f) p -= lr * g;")]
    [InlineData("float o = Matrix.NewtonSchulz(g > 0 ? g : -g, 3); p -= lr * (o + Reduce.Norm(o)) * Matrix.Rows();")]
    [InlineData("float o = Matrix.NewtonSchulz(g, 5); float q = Matrix.NewtonSchulz(o * p, 2); p -= lr * q;")]
    [InlineData("if (lr > 0.5f) { float o = Matrix.NewtonSchulz(g, 5); p -= lr * o; }")]
    [InlineData("p -= lr * Matrix.PolarExpress(g, 5);")]
    [InlineData("p -= lr * Matrix.NewtonSchulz(g, 5, 3.4445f, -4.775f, 2.0315f, lr > 0.5f ? Matrix.PolarExpressCoefficients : Matrix.ConstantCoefficients);")]
    public void Matrix_work_anywhere_a_rule_puts_it_generates_code_that_compiles(string body)
    {
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { " + body + " } }");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
    }

    [Fact]
    public void Polar_Express_reaches_the_runtime_as_the_schedule_argument()
    {
        var run = GeneratorHarness.Generate("using System;\nusing OptDsl;\n[Optimizer] public partial class A { [Hyper] float lr = 1f; [Update] void Update(ref float p, float g) { p -= lr * Matrix.PolarExpress(g, 7); } }");
        Assert.Empty(run.GeneratorDiagnostics);
        var code = string.Concat(run.Output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs")).Select(t => t.ToString()));
        // Steps 7, Muon's constants unused (0), schedule 1: Coefficients.PolarExpress.
        Assert.Contains("MatrixRequest(g, p, 7.0, 0.0, 0.0, 0.0, 1.0)", code);
    }
}
