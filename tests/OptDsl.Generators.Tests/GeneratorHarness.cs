using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using OptDsl.Generators.Diagnostics;

namespace OptDsl.Generators.Tests;

/// <summary>Runs the generator over sources as a user's project would compile them.</summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions =
        new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create("UserProject",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Declaration{i}.cs")),
            CompilationReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver() =>
        CSharpGeneratorDriver.Create(new[] { new OptimizerGenerator().AsSourceGenerator() }, parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public sealed record Run(Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorRunResult Result)
    {
        public string Generated(string hintName) =>
            Result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

        /// <summary>Compiler diagnostics of the output (warnings and errors), after the declaration suppressor.</summary>
        public ImmutableArray<Diagnostic> CompilerDiagnostics() =>
            Output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new DeclarationSuppressor()))
                .GetAllDiagnosticsAsync().GetAwaiter().GetResult()
                .Where(d => !d.IsSuppressed && d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();
    }

    public static Run Generate(params string[] sources)
    {
        var driver = Driver().RunGeneratorsAndUpdateCompilation(Compilation(sources), out var output, out var diagnostics);
        var result = driver.GetRunResult().Results.Single();
        if (result.Exception is not null) throw new InvalidOperationException("the generator threw", result.Exception);
        return new Run(output, diagnostics, result);
    }

    /// <summary>A file of the repository, found from this source file's folder.</summary>
    public static string RepositoryFile(string relativePath, [CallerFilePath] string caller = "") =>
        File.ReadAllText(Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", relativePath));
}
