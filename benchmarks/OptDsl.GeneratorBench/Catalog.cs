using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OptDsl.Generators;

namespace OptDsl.GeneratorBench;

/// <summary>The catalog's sources (src/Optimizers) as one compilation, and a driver that runs the generator over it.</summary>
public static class Catalog
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    /// <summary>Every file of src/Optimizers, read from beside this source file so that it works from any folder.</summary>
    public static string[] Files([CallerFilePath] string caller = "") =>
        Directory.GetFiles(Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", "src", "Optimizers"), "*.cs")
            .OrderBy(f => f, StringComparer.Ordinal).ToArray();

    public static CSharpCompilation Compilation(params SyntaxTree[] extra) =>
        CSharpCompilation.Create("OptDsl.Optimizers",
            Files().Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), ParseOptions, path: f)).Concat(extra),
            OptDsl.Generators.Tests.CompilationReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(new[] { new OptimizerGenerator().AsSourceGenerator() }, parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackSteps));
}
