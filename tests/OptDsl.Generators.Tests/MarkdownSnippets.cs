using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OptDsl.Generators.Tests;

/// <summary>
/// The ```csharp blocks of the READMEs and docs/*.md, each turned into a source file of one compilation, with
/// <c>#line</c> directives so that a compiler error names the markdown file and line.
/// </summary>
/// <remarks>
/// A block is compiled as written: its <c>using</c> directives at the top of its file, its statements as the body of a
/// method, its type declarations beside it, all in a namespace of its own (so that blocks do not see each other's
/// types). A block of statements that reads variables it does not declare says so in an HTML comment on the line
/// before it, which markdown does not show: <c>&lt;!-- snippet context: Module&lt;Tensor, Tensor&gt; model --&gt;</c>
/// gives the parameters of that method (with full type names: the block's own usings are the only ones). A block that
/// quotes a file of the repository says <c>&lt;!-- snippet excerpt: src/Optimizers/Lamb.cs --&gt;</c>: its lines must
/// stand, in order and together, in that file, which the build compiles.
/// </remarks>
public static partial class MarkdownSnippets
{
    public sealed record Block(string File, int FirstLine, string Code, string? Context, string? ExcerptOf)
    {
        public string Where => $"{File}:{FirstLine}";
    }

    [GeneratedRegex(@"^<!--\s*snippet (context|excerpt):\s*(.*?)\s*-->\s*$")]
    private static partial Regex Marker();

    /// <summary>The markdown files whose C# blocks a user may copy (the packages' README too), relative to the root.</summary>
    public static IEnumerable<string> Files(string root) =>
        new[] { "README.md", "src/Packaging/README.md" }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
            .Select(f => "docs/" + Path.GetFileName(f)).OrderBy(f => f, StringComparer.Ordinal));

    /// <summary>Every ```csharp block of a markdown file, with the marker on the line before it if there is one.</summary>
    public static IEnumerable<Block> Read(string root, string file)
    {
        var lines = File.ReadAllLines(Path.Combine(root, file));
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp") continue;
            int end = i + 1;
            while (end < lines.Length && lines[end].Trim() != "```") end++;
            var marker = i > 0 ? Marker().Match(lines[i - 1]) : Match.Empty;
            string? context = marker.Success && marker.Groups[1].Value == "context" ? marker.Groups[2].Value : null;
            string? excerpt = marker.Success && marker.Groups[1].Value == "excerpt" ? marker.Groups[2].Value : null;
            yield return new Block(file, i + 2, string.Join("\n", lines[(i + 1)..end]), context, excerpt);
            i = end;
        }
    }

    /// <summary>
    /// The source file a block compiles as. Lines of the block keep their markdown line numbers; lines added around
    /// them are hidden from diagnostics.
    /// </summary>
    public static string Source(Block block, int index)
    {
        var unit = CSharpSyntaxTree.ParseText(block.Code, GeneratorHarness.ParseOptions).GetCompilationUnitRoot();
        var text = unit.SyntaxTree.GetText();
        int LineOf(SyntaxNode node) => text.Lines.GetLineFromPosition(node.SpanStart).LineNumber;
        string Lines(int from, int to) =>
            string.Join("\n", Enumerable.Range(from, to - from).Select(l => text.Lines[l].ToString()));
        string At(int line) => $"#line {block.FirstLine + line} \"{block.File}\"\n";

        var statements = unit.Members.OfType<GlobalStatementSyntax>().ToList();
        var declarations = unit.Members.Where(m => m is not GlobalStatementSyntax).ToList();
        int lineCount = text.Lines.Count;
        int statementsStart = statements.Count > 0 ? LineOf(statements[0]) : lineCount;
        int declarationsStart = declarations.Count > 0 ? LineOf(declarations[0]) : lineCount;
        int usingsEnd = Math.Min(statementsStart, declarationsStart);

        var source = new StringBuilder();
        source.Append(At(0)).Append(Lines(0, usingsEnd)).Append('\n');
        if (declarations.Any(d => d is FileScopedNamespaceDeclarationSyntax))
        {
            // A file-scoped namespace admits no statements and no enclosing namespace: the block is a file as it stands.
            source.Append(At(usingsEnd)).Append(Lines(usingsEnd, lineCount)).Append('\n');
            return source.ToString();
        }
        source.Append("#line hidden\n").Append($"namespace DocumentationSnippets.Block{index}\n{{\n");
        if (statements.Count > 0)
        {
            var returnType = ReturnsValue(statements) ? "int" : "void";
            source.Append($"static class Snippet\n{{\n    public static {returnType} Run({block.Context})\n    {{\n")
                .Append(At(statementsStart)).Append(Lines(statementsStart, Math.Max(declarationsStart, statementsStart)))
                .Append('\n').Append("#line hidden\n");
            if (returnType == "int" && !EndsInReturn(statements)) source.Append("        return 0;\n");
            source.Append("    }\n}\n");
        }
        if (declarations.Count > 0)
            source.Append(At(declarationsStart)).Append(Lines(declarationsStart, lineCount)).Append('\n').Append("#line hidden\n");
        source.Append("}\n");
        return source.ToString();
    }

    /// <summary>Top-level statements with <c>return value;</c> make a program's entry point return int.</summary>
    static bool ReturnsValue(IEnumerable<GlobalStatementSyntax> statements) =>
        statements.SelectMany(s => s.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)))
            .OfType<ReturnStatementSyntax>().Any(r => r.Expression is not null);

    static bool EndsInReturn(List<GlobalStatementSyntax> statements) => statements[^1].Statement is ReturnStatementSyntax;

    /// <summary>Whether a block's lines stand, in order and together, in the text of a file (compared trimmed).</summary>
    public static bool IsExcerptOf(Block block, string fileText)
    {
        static string[] Trimmed(string s) => s.Replace("\r", "").Split('\n').Select(l => l.Trim()).ToArray();
        var excerpt = Trimmed(block.Code);
        var file = Trimmed(fileText);
        for (int start = 0; start + excerpt.Length <= file.Length; start++)
            if (file.AsSpan(start, excerpt.Length).SequenceEqual(excerpt)) return true;
        return false;
    }
}
