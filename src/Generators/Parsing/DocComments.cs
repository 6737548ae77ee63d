using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Reads the <c>&lt;summary&gt;</c> of a member's <c>///</c> comment from its trivia, which works whether or not the
/// project asks the compiler to parse documentation comments.
/// </summary>
static class DocComments
{
    public static string? Summary(SyntaxNode? node)
    {
        if (node is null) return null;
        var text = new StringBuilder();
        foreach (var trivia in node.GetLeadingTrivia())
        {
            foreach (var raw in LineBreaks.Split(trivia.ToFullString()))
            {
                var line = raw.Trim();
                if (!line.StartsWith("///")) continue;
                text.Append(line.Substring(3).Trim()).Append(' ');
            }
        }
        var all = text.ToString();
        int start = all.IndexOf("<summary>");
        int end = all.IndexOf("</summary>");
        if (start < 0 || end < start) return null;
        var summary = string.Join(" ", all.Substring(start + 9, end - start - 9).Split(' ').Where(w => w.Length > 0));
        return summary.Length == 0 ? null : summary;
    }
}
