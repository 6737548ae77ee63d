using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptDsl.Generators.Diagnostics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Declarations that take another's rule (<c>[Optimizer(Base = typeof(X))]</c>) or add modifiers to a rule
/// (<c>Modifiers = Modifier.Cautious</c>): their source is composed (<see cref="RuleSources"/>,
/// <see cref="ModifierSource"/>), written into a class of the declaring class's name in a namespace of its own, and
/// parsed as any declaration, in the compilation with that one tree added. Every problem is reported on the declaring
/// class, where the user wrote the composition.
/// </summary>
static class Composition
{
    const string ComposedNamespace = "OptDslComposed";
    const int MostBases = 16;

    /// <summary>What an <c>[Optimizer]</c> attribute asks for: a base, modifiers, or neither.</summary>
    public static (INamedTypeSymbol? Base, int Modifiers) Requested(AttributeData? attribute)
    {
        if (attribute is null) return (null, 0);
        INamedTypeSymbol? baseType = null;
        int modifiers = 0;
        foreach (var named in attribute.NamedArguments)
        {
            if (named.Key == "Base") baseType = named.Value.Value as INamedTypeSymbol;
            else if (named.Key == "Modifiers" && named.Value.Value is int m) modifiers = m;
        }
        return (baseType, modifiers);
    }

    /// <summary>The composed source of <paramref name="type"/>, or the reason there is none.</summary>
    public static (RuleSource? Source, string? Problem) SourceOf(INamedTypeSymbol type, Compilation compilation, CancellationToken cancellationToken,
        HashSet<INamedTypeSymbol>? visiting = null)
    {
        visiting ??= new HashSet<INamedTypeSymbol>(SymbolEqualityComparer.Default);
        if (!visiting.Add(type.OriginalDefinition))
            return (null, $"its bases lead back to '{type.Name}'");
        if (visiting.Count > MostBases) return (null, $"it has more than {MostBases} bases in a chain");
        var attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == OptimizerGenerator.OptimizerAttribute);
        bool declaredHere = type.DeclaringSyntaxReferences.Length > 0;
        if (!declaredHere || attribute is null)
        {
            // A referenced assembly's optimizer: its generated class says what it is, composition included.
            return RuleSources.FromMetadata(type) is { } fromMetadata
                ? (fromMetadata, null)
                : (null, $"'{type.ToDisplayString()}' is not an optimizer declaration (a class marked [Optimizer], or one generated from it)");
        }
        var (baseType, modifiers) = Requested(attribute);
        RuleSource own;
        if (baseType is null) own = RuleSources.FromSyntax(type, compilation, cancellationToken);
        else
        {
            var (fromBase, problem) = SourceOf(baseType, compilation, cancellationToken, visiting);
            if (fromBase is null) return (null, problem);
            own = fromBase;
        }
        return ModifierSource.Apply(own, modifiers & ModifierSource.All);
    }

    /// <summary>
    /// Parses <paramref name="type"/>, which names a base or modifiers, from its composed source. Problems are reported
    /// on the class; with <paramref name="errorsOnly"/> (a rule of its own, already parsed as written, whose warnings
    /// are reported) only the composition's errors are.
    /// </summary>
    public static OptimizerModel? Parse(INamedTypeSymbol type, TypeDeclarationSyntax syntax, SemanticModel semanticModel,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken, bool errorsOnly = false)
    {
        var at = syntax.Identifier.GetLocation();
        void Problem(string why, Location? where = null) =>
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidComposition, where ?? at, type.Name, why));

        var attribute = type.GetAttributes().First(a => a.AttributeClass?.ToDisplayString() == OptimizerGenerator.OptimizerAttribute);
        var (baseType, modifiers) = Requested(attribute);
        if ((modifiers & ~ModifierSource.All) != 0)
        {
            Problem($"Modifiers holds {modifiers & ~ModifierSource.All}, which is no Modifier; combine Modifier.Grokfast, Modifier.Mars and Modifier.Cautious");
            return null;
        }
        if (baseType is not null && OwnRoleMembers(type).FirstOrDefault() is { } own)
        {
            Problem($"it takes its rule from '{baseType.Name}' (Base) and so declares no hyperparameters, state or rules of its own, but declares '{own.Name}'; remove it, or drop Base and declare the whole rule",
                own.Locations.FirstOrDefault());
            return null;
        }
        if (baseType is { TypeKind: TypeKind.Error }) return null; // the compiler reports the unknown type
        if (baseType is not null)
        {
            // The composed class is always top-level, partial and plain: the class the user wrote is the one to check.
            var shape = new List<DiagnosticInfo>();
            DeclarationParser.CheckShape(type, syntax, semanticModel, shape, cancellationToken);
            if (shape.Count > 0)
            {
                diagnostics.AddRange(shape);
                return null;
            }
        }
        var (source, problem) = SourceOf(type, semanticModel.Compilation, cancellationToken);
        if (source is null)
        {
            Problem(problem!);
            return null;
        }

        var ns = (baseType ?? type).ContainingNamespace;
        var nsName = (ns is null || ns.IsGlobalNamespace ? "" : ns.ToDisplayString() + ".") + ComposedNamespace;
        // A referenced base's rule may lean on its project's implicit usings: System and OptDsl are given where absent.
        var usings = source.Usings.Split('\n').Where(u => u.Length > 0).ToList();
        foreach (var needed in new[] { "using System;", "using OptDsl;" })
            if (!usings.Contains(needed)) usings.Add(needed);
        var text = $"namespace {nsName}\n{{\n{Indent(string.Join("\n", usings))}\n\n    public partial class {syntax.Identifier.Text}\n    {{\n{Indent(source.Members)}\n    }}\n}}\n";
        var tree = CSharpSyntaxTree.ParseText(text, (CSharpParseOptions)syntax.SyntaxTree.Options, path: type.Name + ".composed.cs", cancellationToken: cancellationToken);
        var compilation = semanticModel.Compilation.AddSyntaxTrees(tree);
        var composedModel = compilation.GetSemanticModel(tree);
        // C# errors in the composed class (the rule read a name the base's assembly had and this one lacks, say) are
        // nobody else's to report: the class is not part of the build.
        if (composedModel.GetDiagnostics(cancellationToken: cancellationToken).FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error) is { } error)
        {
            Problem($"its composed rule does not compile here ({error.Id}: {error.GetMessage(System.Globalization.CultureInfo.InvariantCulture)})");
            return null;
        }
        var composedSyntax = tree.GetRoot(cancellationToken).DescendantNodes().OfType<ClassDeclarationSyntax>().First();
        if (composedModel.GetDeclaredSymbol(composedSyntax, cancellationToken) is not { } composedType) return null;

        var inner = new List<DiagnosticInfo>();
        var model = DeclarationParser.ParseClass(composedType, composedSyntax, composedModel, inner, cancellationToken);
        // Every problem of the composed rule is the composition's, so it is reported where the composition is written.
        var here = DiagnosticInfo.Create(DiagnosticDescriptors.InvalidComposition, at);
        diagnostics.AddRange(inner.Where(d => !errorsOnly || DiagnosticDescriptors.ById(d.Id).DefaultSeverity == DiagnosticSeverity.Error).Select(d => d with { FilePath = here.FilePath, Span = here.Span, LineSpan = here.LineSpan }));
        if (model is null) return null;
        var what = baseType is null ? "" : baseType.Name + (modifiers == 0 ? "" : " with ");
        return model with
        {
            Namespace = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
            Accessibility = type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
            Summary = DocComments.Summary(syntax) ?? (what + ModifierSource.Describe(modifiers) + (model.Summary is null ? "." : ": " + model.Summary)),
            Source = source,
        };
    }

    static IEnumerable<ISymbol> OwnRoleMembers(INamedTypeSymbol type) =>
        type.GetMembers().Where(m => !m.IsImplicitlyDeclared && m.GetAttributes().Any(a => a.AttributeClass?.ContainingNamespace?.Name == "OptDsl"
            && a.AttributeClass.Name is "HyperAttribute" or "StateAttribute" or "ScalarStateAttribute" or "UpdateAttribute" or "RefreshAttribute"));

    static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => l.Length == 0 ? l : "    " + l));
}
