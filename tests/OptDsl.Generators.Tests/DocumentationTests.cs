using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using OptDsl.Generators.Diagnostics;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// Every C# block of README.md and docs/*.md compiles as shown, with the generator, against what a user's project
/// references: the DSL and runtime, the catalog and TorchSharp (see <see cref="MarkdownSnippets"/> for how a block is
/// compiled and how a fragment says what it needs).
/// </summary>
public class DocumentationTests
{
    static string Root([CallerFilePath] string caller = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(caller)!, "..", ".."));

    static readonly MarkdownSnippets.Block[] Blocks =
        MarkdownSnippets.Files(Root()).SelectMany(f => MarkdownSnippets.Read(Root(), f)).ToArray();

    [Fact]
    public async Task Every_csharp_block_of_the_README_and_the_docs_compiles_without_warnings()
    {
        var compiled = Blocks.Where(b => b.ExcerptOf is null).ToArray();
        Assert.Contains(compiled, b => b.File == "README.md");
        Assert.Contains(compiled, b => b.File.StartsWith("docs/", System.StringComparison.Ordinal));

        var compilation = GeneratorHarness.Compilation()
            .AddReferences(MetadataReference.CreateFromFile(typeof(OptDsl.Optimizers.AdamW).Assembly.Location))
            .AddSyntaxTrees(compiled.Select((b, i) =>
                CSharpSyntaxTree.ParseText(MarkdownSnippets.Source(b, i), GeneratorHarness.ParseOptions, path: $"Block{i}.cs")));
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var compilerDiagnostics = (await output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new DeclarationSuppressor()))
            .GetAllDiagnosticsAsync()).Where(d => !d.IsSuppressed);

        var problems = generatorDiagnostics.Concat(compilerDiagnostics)
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Select(d => (Span: d.Location.GetMappedLineSpan(), Diagnostic: d))
            .OrderBy(p => p.Span.Path).ThenBy(p => p.Span.StartLinePosition.Line)
            .Select(p => $"{p.Span.Path}:{p.Span.StartLinePosition.Line + 1}: {p.Diagnostic.Id} {p.Diagnostic.GetMessage()}")
            .ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_block_marked_as_an_excerpt_stands_in_its_file()
    {
        var excerpts = Blocks.Where(b => b.ExcerptOf is not null).ToArray();
        Assert.NotEmpty(excerpts);
        foreach (var block in excerpts)
        {
            var file = Path.Combine(Root(), block.ExcerptOf!);
            Assert.True(File.Exists(file), $"{block.Where}: {block.ExcerptOf} does not exist");
            Assert.True(MarkdownSnippets.IsExcerptOf(block, File.ReadAllText(file)),
                $"{block.Where}: the block's lines do not stand together in {block.ExcerptOf}");
        }
    }

    [Fact]
    public void A_block_that_does_not_compile_is_reported_at_its_markdown_line()
    {
        var block = new MarkdownSnippets.Block("docs/example.md", 40, "using System;\n\nConsole.WriteLine(undeclared);", null, null);
        var tree = CSharpSyntaxTree.ParseText(MarkdownSnippets.Source(block, 0), GeneratorHarness.ParseOptions);
        var error = GeneratorHarness.Compilation().AddSyntaxTrees(tree).GetDiagnostics()
            .Single(d => d.Severity == DiagnosticSeverity.Error);

        Assert.Equal("CS0103", error.Id);
        Assert.Equal("docs/example.md", error.Location.GetMappedLineSpan().Path);
        Assert.Equal(42, error.Location.GetMappedLineSpan().StartLinePosition.Line + 1);
    }
}
