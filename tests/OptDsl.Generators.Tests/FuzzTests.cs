using System;
using System.Collections.Generic;
using System.Linq;
using CsCheck;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// Thousands of declarations as an IDE sees them while a person edits — every catalog declaration, the example and
/// the test declarations, cut, broken and spliced at random — through the generator. It must never throw, every OPT
/// diagnostic must point into the user's source, an [Optimizer] class that is valid C# must get either code or an
/// OPT error, and whenever the generator reports no error and the user's file compiles, the code it generates must
/// compile too. OPTDSL_FUZZ_ITERATIONS sets the count (2,000 by default, which keeps <c>dotnet test</c> short on two
/// cores; CI sets 10,000), and OPTDSL_FUZZ_SEED (printed on a failure) replays a run. Every run draws a fresh seed, so
/// each test run tries declarations no earlier run tried.
/// </summary>
public class FuzzTests
{
    static readonly string[] Seeds = Declarations.CatalogFiles.Select(Declarations.Catalog)
        .Append(Declarations.Example).Append(Declarations.Branchy).Append(Declarations.Readme)
        // Well-formed rules of the differential test: every operator, branch shape, intrinsic and state kind to cut up.
        .Concat(Differential.DifferentialTests.Rules(seed: 7, count: 2).Rules.Where((_, i) => i % 5 == 0).Select(r => r.Source)).ToArray();

    /// <summary>Things people type, half-type or paste: valid and invalid tokens of the declaration language and around it.</summary>
    static readonly string[] Tokens =
    {
        "{", "}", ";", "(", ")", "[", "]", ",", "=", "?", ":", "=>", "*", "-", "/", "+=", "!", "&&",
        "float", "double", "int", "bool", "string", "long", "Missing", "var", "ref", "out", "static", "const", "record",
        "partial", "abstract", "<T>", "where T : class", "new()", "null", "\"text\"", "1e400f", "0f", "-1", "float.NaN",
        "[Hyper]", "[Hyper(\"[0, 1)\")]", "[Hyper(\"(1, 0]\")]", "[State]", "[State(Init = StateInit.Parameter)]",
        "[State(OnlyIf = nameof(lr))]", "[State(InitFrom = nameof(nothing))]", "[ScalarState]", "[Update]", "[Optimizer]",
        "lr", "p", "g", "t", "m", "v", "undefinedName", "Update(ref p, g)", "MathF.Sqrt(g)", "MathF.Nope(g)",
        "OptMath.Lerp(p, g, 0.5f)", "Reduce.Norm(g)", "Reduce.Norm(lr)", "Reduce.GlobalNorm(p)", "Matrix.NewtonSchulz(g, 5)",
        "Matrix.Rows()", "(int)g", "(float)t", "for (;;) { }", "while (true) break;", "return;", "throw null;",
        "new float[3]", "p = g;", "m = g;", "lr = 1f;", "t = 2;", "int k = 0;", "if (g > 0) { p -= g; } else { p += g; }",
        "class Inner { }", "void Other() { }", "[Update] void Update(ref float p, float g) { p -= g; }",
        // Names the generated class or C# reserve, verbatim identifiers, constructors.
        "State", "Options", "ParamGroup", "Declaration", "var", "@class", "@params", "options", "Backend", "StepCount",
        "public Foo() { }", "public Foo(float x) : this(null!) { }",
        // Compositions: modifiers on the class's own rule, a base (maybe itself, maybe missing), a flag that is none.
        "[Optimizer(Modifiers = Modifier.Cautious | Modifier.Mars | Modifier.Grokfast)]", "[Optimizer(Base = typeof(Lion), Modifiers = Modifier.Cautious)]",
        "Modifiers = (Modifier)8", "Base = typeof(Missing)", "Base = typeof(float)", "Modifier.Grokfast", "cautiousMask", "marsPrevious",
        // Line terminators C# knows besides CR and LF.
        "\u2028", "\u2029", "\u0085", "\r",
    };

    static readonly Gen<Func<string, string>> Edit = Gen.OneOf(
        // Delete a span.
        from start in Fraction from length in Gen.Int[1, 40]
        select (Func<string, string>)(s => s.Length == 0 ? s : s.Remove(Pos(s, start), Math.Min(length, s.Length - Pos(s, start)))),
        // Insert a token.
        from at in Fraction from token in Pick(Tokens)
        select (Func<string, string>)(s => s.Insert(Pos(s, at), " " + token + " ")),
        // Replace an occurrence of one token by another.
        from which in Pick(Tokens) from replacement in Pick(Tokens) from nth in Gen.Int[0, 5]
        select (Func<string, string>)(s => ReplaceNth(s, which, replacement, nth)),
        // Stop typing here.
        from at in Fraction
        select (Func<string, string>)(s => s.Substring(0, Pos(s, at))),
        // Splice in a piece of another declaration.
        from other in Pick(Seeds) from from1 in Fraction from length in Gen.Int[1, 200] from at in Fraction
        select (Func<string, string>)(s => s.Insert(Pos(s, at), Slice(other, from1, length))),
        // Nest deeply: parentheses, casts or conditions around a value, past the generator's nesting limit or near it.
        from at in Fraction from depth in Gen.Int[200, 700] from shape in Gen.Int[0, 2]
        select (Func<string, string>)(s => s.Insert(Pos(s, at), Nest(shape, depth))),
        // The whole declaration again, its class name in other case (file names are compared without case).
        from upper in Gen.Bool
        select (Func<string, string>)(s => s + "\n" + Recase(s, upper)));

    static string Nest(int shape, int depth) => shape switch
    {
        0 => new string('(', depth) + "g" + new string(')', depth),
        1 => string.Concat(Enumerable.Repeat("(float)", depth)) + "g",
        _ => string.Concat(Enumerable.Repeat("g > 0 ? g : ", depth)) + "g",
    };

    /// <summary>The source with its first class name's case changed (so a second class whose name differs only in case).</summary>
    static string Recase(string s, bool upper)
    {
        int at = s.IndexOf("class ", StringComparison.Ordinal);
        if (at < 0) return s;
        int start = at + 6, end = start;
        while (end < s.Length && char.IsLetterOrDigit(s[end])) end++;
        var name = s.Substring(start, end - start);
        return s.Substring(0, start) + (upper ? name.ToUpperInvariant() : name.ToLowerInvariant()) + s.Substring(end);
    }

    static readonly Gen<string> Declaration =
        from seed in Pick(Seeds)
        from edits in Edit.Array[1, 4]
        select edits.Aggregate(seed, (s, edit) => edit(s));

    /// <summary>A position as a fraction of the text's length, in [0, 1).</summary>
    static Gen<double> Fraction => Gen.Int[0, 999_999].Select(i => i / 1_000_000.0);

    static Gen<string> Pick(string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    static int Pos(string s, double at) => (int)(at * s.Length);

    static string Slice(string s, double from, int length)
    {
        int start = Pos(s, from);
        return s.Substring(start, Math.Min(length, s.Length - start));
    }

    static string ReplaceNth(string s, string which, string by, int nth)
    {
        int index = -1;
        for (int i = 0; i <= nth; i++)
        {
            index = s.IndexOf(which, index + 1, StringComparison.Ordinal);
            if (index < 0) return s;
        }
        return s.Remove(index, which.Length).Insert(index, by);
    }

    /// <summary>The generator's guarantees on one source; throws with the source when one fails.</summary>
    static void Check(string source)
    {
        GeneratorHarness.Run run;
        try
        {
            run = GeneratorHarness.Generate(source);
        }
        catch (Exception e)
        {
            throw new Exception($"the generator threw on:\n{source}", e);
        }
        var ours = run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("OPT")).ToList();
        if (ours.Any(d => d.Id == "OPT0025"))
            throw new Exception($"the generator failed internally on:\n{source}\n{string.Join("\n", ours)}");
        // Locations travel through the incremental pipeline as file, span and lines (not syntax trees): they must
        // name the declaration's file and lie within it.
        foreach (var d in ours)
        {
            var line = d.Location.GetLineSpan();
            if (line.Path != "Declaration0.cs" || d.Location.SourceSpan.End > source.Length)
                throw new Exception($"{d.Id} points outside the declaration ({d.Location}) on:\n{source}");
        }
        if (ours.Any(d => d.Severity == DiagnosticSeverity.Error)) return;
        if (!run.Result.GeneratedSources.Any(g => g.HintName != "OptDslNativeInitializer.g.cs"))
        {
            // Nothing generated and no OPT error: fine if there is no [Optimizer] class, or C# already rejects the file.
            var input = GeneratorHarness.Compilation(source);
            var declared = input.SyntaxTrees.SelectMany(t => t.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax>()
                .Select(c => input.GetSemanticModel(t).GetDeclaredSymbol(c))
                .Where(c => c?.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "OptDsl.OptimizerAttribute") == true)).ToList();
            if (declared.Count > 0 && !input.GetDiagnostics().Any(d => d.Severity == DiagnosticSeverity.Error))
                throw new Exception($"{declared[0]!.Name} compiles as C# but was ignored without a diagnostic:\n{source}");
            return;
        }
        // Where the user's own file compiles, the generated code must too. (Where it does not, the build is broken by
        // the user's error already; the generator keeps out of the way of the common cases, but is not held to more.)
        var errors = run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Any(d => d.Location.SourceTree?.FilePath == "Declaration0.cs" || !d.Location.IsInSource)) return;
        var inGenerated = errors;
        if (inGenerated.Count > 0)
            throw new Exception($"the generated code does not compile ({string.Join("; ", inGenerated.Take(3))}) for:\n{source}");
    }

    /// <summary>Declarations per run unless OPTDSL_FUZZ_ITERATIONS says otherwise: about 25 ms of CPU each.</summary>
    const long DefaultIterations = 2_000;

    [Fact]
    public void Edited_declarations_never_break_the_generator()
    {
        var iterations = long.TryParse(Environment.GetEnvironmentVariable("OPTDSL_FUZZ_ITERATIONS"), out var n) ? n : DefaultIterations;
        Declaration.Sample(Check, iter: iterations, seed: Environment.GetEnvironmentVariable("OPTDSL_FUZZ_SEED"));
    }

    [Fact]
    public void The_seeds_themselves_generate_code_that_compiles()
    {
        foreach (var seed in Seeds) Check(seed);
    }
}
