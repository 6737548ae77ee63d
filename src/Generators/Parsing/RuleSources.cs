using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Reads a declaration's <see cref="RuleSource"/>: from its syntax where it is declared in this compilation, else from
/// the <c>[DeclarationSource]</c> its generated class carries in a referenced assembly.
/// </summary>
static class RuleSources
{
    public const string DeclarationSourceAttribute = "OptDsl.DeclarationSourceAttribute";
    static readonly string[] RoleAttributes =
        { "OptDsl.HyperAttribute", "OptDsl.StateAttribute", "OptDsl.ScalarStateAttribute", "OptDsl.UpdateAttribute", "OptDsl.RefreshAttribute" };

    /// <summary>What a referenced assembly's generated class says of its declaration; null when it carries nothing.</summary>
    public static RuleSource? FromMetadata(INamedTypeSymbol type) =>
        type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == DeclarationSourceAttribute) is { } data
        && data.ConstructorArguments.Length == 2
        && data.ConstructorArguments[0].Value is string usings && data.ConstructorArguments[1].Value is string members
            ? new RuleSource(usings, members)
            : null;

    /// <summary>
    /// The members of <paramref name="type"/> (declared in this compilation) that have a role — hyperparameters, state,
    /// the update and refresh rules — with their doc comments, and the using directives of their files (the
    /// compilation's global ones written as plain ones, for a reader that does not have them).
    /// </summary>
    public static RuleSource FromSyntax(INamedTypeSymbol type, Compilation compilation, CancellationToken cancellationToken)
    {
        var members = new List<MemberDeclarationSyntax>();
        foreach (var member in type.GetMembers())
        {
            // Constants carry over too: a rule reads them as numbers it folds in.
            if (!(member is IFieldSymbol { IsConst: true } || (member is IFieldSymbol or IMethodSymbol && HasRole(member)))) continue;
            var node = member.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken);
            // A field's declarator sits in a declaration that may declare several fields: take the declaration once.
            var declaration = node?.FirstAncestorOrSelf<MemberDeclarationSyntax>();
            if (declaration is not null && !members.Contains(declaration)) members.Add(declaration);
        }
        members.Sort((a, b) => a.SyntaxTree == b.SyntaxTree
            ? a.SpanStart.CompareTo(b.SpanStart)
            : string.CompareOrdinal(a.SyntaxTree.FilePath, b.SyntaxTree.FilePath));

        var usings = new List<string>();
        void Add(IEnumerable<UsingDirectiveSyntax> list)
        {
            foreach (var u in list)
            {
                var text = (u.GlobalKeyword.IsKind(SyntaxKind.None) ? u : u.WithGlobalKeyword(default)).WithoutTrivia().ToString();
                if (!usings.Contains(text)) usings.Add(text);
            }
        }
        foreach (var tree in compilation.SyntaxTrees)
            if (tree.GetRoot(cancellationToken) is CompilationUnitSyntax unit)
                Add(unit.Usings.Where(u => !u.GlobalKeyword.IsKind(SyntaxKind.None)));
        foreach (var tree in members.Select(m => m.SyntaxTree).Distinct())
            if (tree.GetRoot(cancellationToken) is CompilationUnitSyntax unit) Add(unit.Usings);
        foreach (var member in members)
            foreach (var ns in member.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().Reverse())
                Add(ns.Usings);

        var text = new System.Text.StringBuilder();
        foreach (var member in members)
        {
            // Doc comments carry over; directives (#region, #if) would not stand alone.
            var docs = member.GetLeadingTrivia().Where(t => t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia) || t.IsKind(SyntaxKind.MultiLineDocumentationCommentTrivia));
            foreach (var doc in docs) text.Append("    ").Append(doc.ToFullString().TrimStart());
            text.Append("    ").Append(member.WithoutTrivia().ToString()).Append('\n');
        }
        return new RuleSource(string.Join("\n", usings), text.ToString());
    }

    static bool HasRole(ISymbol member) =>
        member.GetAttributes().Any(a => a.AttributeClass is { } c && RoleAttributes.Contains(c.ToDisplayString()));
}
