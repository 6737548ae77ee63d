using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// How deeply a rule's body nests, measured on its syntax without recursion, before anything recursive (Roslyn's
/// operation tree, the translator, the emitters) walks it: past <see cref="Limit"/> levels a diagnostic stands in for
/// a stack overflow that would take the compiler down. Each <c>else if</c> of a chain counts once, as one level.
/// </summary>
static class NestingDepth
{
    /// <summary>Far beyond any rule a person writes (those nest 10 to 30 levels), far below what the walks can take.</summary>
    public const int Limit = 256;

    /// <summary>The outermost node nested deeper than <see cref="Limit"/> and the deepest level the body reaches, or null.</summary>
    public static (SyntaxNode Node, int Depth)? FirstTooDeep(SyntaxNode body)
    {
        SyntaxNode? first = null;
        int deepest = 0;
        var pending = new System.Collections.Generic.Stack<(SyntaxNode Node, int Depth)>();
        pending.Push((body, 0));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > deepest) deepest = depth;
            if (depth == Limit + 1 && (first is null || node.SpanStart < first.SpanStart)) first = node;
            foreach (var child in node.ChildNodes())
                // The else clause and its if are one link of a chain, not two levels.
                pending.Push((child, child is ElseClauseSyntax ? depth : depth + 1));
        }
        return first is null ? null : (first, deepest);
    }
}
