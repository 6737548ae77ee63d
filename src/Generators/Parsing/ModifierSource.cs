using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Writes <c>Modifier</c>s around a declaration's update rule, as source: the modifiers' hyperparameters and state join
/// the members, and the update method's body becomes the modifiers' statements around the rule's own (kept as a block,
/// under its own parameter names). The composed source then goes through the parser like any declaration, so every
/// backend fuses the modifiers with the rule and every check applies to them.
/// </summary>
static class ModifierSource
{
    // The values of OptDsl.Modifier.
    public const int Grokfast = 1, Mars = 2, Cautious = 4, All = Grokfast | Mars | Cautious;

    /// <summary>The names each modifier adds, which the rule must not use itself (a rule that already has it, twice).</summary>
    static readonly (int Modifier, string[] Names)[] AddedNames =
    {
        (Grokfast, new[] { "grokfastAlpha", "grokfastLambda", "grokfastAverage" }),
        (Mars, new[] { "marsGamma", "marsMaxNorm", "marsBeta", "marsPrevious", "marsCorrected" }),
        (Cautious, new[] { "cautiousStart", "cautiousGradient", "cautiousChange", "cautiousMask" }),
    };

    /// <summary>Names of the flags in <paramref name="modifiers"/>, for docs and messages.</summary>
    public static string Describe(int modifiers) => string.Join(", ",
        new[] { (Grokfast, "Grokfast"), (Mars, "MARS correction"), (Cautious, "cautious masking") }
            .Where(m => (modifiers & m.Item1) != 0).Select(m => m.Item2));

    /// <summary>
    /// <paramref name="source"/> with <paramref name="modifiers"/> written around its update rule, or the reason it
    /// cannot be: no update method, or a name the modifiers need taken.
    /// </summary>
    public static (RuleSource? Source, string? Problem) Apply(RuleSource source, int modifiers)
    {
        if (modifiers == 0) return (source, null);
        var tree = CSharpSyntaxTree.ParseText("class C\n{\n" + source.Members + "\n}\n");
        var type = tree.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>().First();
        var update = type.Members.OfType<MethodDeclarationSyntax>().FirstOrDefault(m => HasAttribute(m.AttributeLists, "Update"));
        if (update is null) return (null, "it has no [Update] method to modify");
        var ps = update.ParameterList.Parameters;
        if (ps.Count < 2 || (update.Body is null && update.ExpressionBody is null))
            return (null, $"its update method '{update.Identifier.Text}' does not take '(ref float p, float g)' with a body");

        var declared = new HashSet<string>(type.DescendantNodes().Select(n => n switch
        {
            VariableDeclaratorSyntax v => v.Identifier.Text,
            ParameterSyntax p => p.Identifier.Text,
            MethodDeclarationSyntax m => m.Identifier.Text,
            SingleVariableDesignationSyntax d => d.Identifier.Text,
            _ => null,
        }).Where(n => n is not null)!);
        foreach (var (modifier, names) in AddedNames)
            if ((modifiers & modifier) != 0 && names.FirstOrDefault(declared.Contains) is { } taken)
                return (null, $"its rule already has '{taken}', a name {Describe(modifier)} adds (is it applied twice?); rename it in the rule, or apply the modifier once");

        string p = ps[0].Identifier.Text, g = ps[1].Identifier.Text;
        bool ownBeta = type.Members.OfType<FieldDeclarationSyntax>().Any(f =>
            f.Declaration.Variables.Any(v => v.Identifier.Text == "beta1") && HasAttribute(f.AttributeLists, "Hyper"));
        var fields = new StringBuilder();
        var before = new StringBuilder();
        var after = new StringBuilder();
        if ((modifiers & Grokfast) != 0)
        {
            fields.Append("""
                    /// <summary>Grokfast: the decay of the gradient's moving average.</summary>
                    [global::OptDsl.Hyper("[0, 1)")] float grokfastAlpha = 0.98f;
                    /// <summary>Grokfast: how much of the moving average is added to the gradient.</summary>
                    [global::OptDsl.Hyper("[0, inf)")] float grokfastLambda = 2f;
                    /// <summary>Grokfast: the gradient's moving average, from the first gradient.</summary>
                    [global::OptDsl.State(Init = global::OptDsl.StateInit.FirstGradient)] float grokfastAverage;

                """);
            before.Append($"""
                        grokfastAverage = grokfastAlpha * grokfastAverage + (1 - grokfastAlpha) * {g};
                        {g} = {g} + grokfastLambda * grokfastAverage;

                """);
        }
        if ((modifiers & Mars) != 0)
        {
            string beta = ownBeta ? "beta1" : "marsBeta";
            fields.Append("""
                    /// <summary>MARS: the weight of the gradient's change in the corrected gradient.</summary>
                    [global::OptDsl.Hyper("[0, inf)")] float marsGamma = 0.025f;
                    /// <summary>MARS: the largest Euclidean norm of a tensor's corrected gradient.</summary>
                    [global::OptDsl.Hyper("(0, inf)")] float marsMaxNorm = 1f;
                    /// <summary>MARS: the previous step's gradient.</summary>
                    [global::OptDsl.State] float marsPrevious;

                """);
            if (!ownBeta)
                fields.Append("""
                        /// <summary>MARS: the momentum decay β in the correction's factor β/(1 − β).</summary>
                        [global::OptDsl.Hyper("[0, 1)")] float marsBeta = 0.95f;

                    """);
            before.Append($"""
                        float marsCorrected = {g} + marsGamma * ({beta} / (1 - {beta})) * ({g} - marsPrevious);
                        marsPrevious = {g};
                        {g} = marsCorrected * global::System.MathF.Min(1f, marsMaxNorm / global::OptDsl.Reduce.Norm(marsCorrected));

                """);
        }
        if ((modifiers & Cautious) != 0)
        {
            before.Append($"""
                        float cautiousStart = {p};
                        float cautiousGradient = {g};

                """);
            after.Append($"""
                        float cautiousChange = {p} - cautiousStart;
                        float cautiousMask = cautiousChange * cautiousGradient < 0 ? 1f : 0f;
                        {p} = cautiousStart + cautiousChange * (cautiousMask / global::System.MathF.Max(global::OptDsl.Reduce.Mean(cautiousMask), 1e-3f));

                """);
        }

        var body = update.Body is { } block ? block.WithoutTrivia().ToFullString() : "{ " + update.ExpressionBody!.Expression.ToFullString() + "; }";
        var method = new StringBuilder();
        method.Append("    [global::OptDsl.Update]\n    void ").Append(update.Identifier.Text).Append(update.ParameterList.WithoutTrivia().ToFullString()).Append("\n    {\n");
        method.Append("        // Modifiers: ").Append(Describe(modifiers)).Append(".\n");
        method.Append(before).Append("        ").Append(body.Replace("\n", "\n    ")).Append('\n').Append(after.ToString().TrimEnd('\n')).Append("\n    }\n");

        var members = new StringBuilder();
        foreach (var member in type.Members)
        {
            if (member == update) members.Append(method);
            else
            {
                foreach (var doc in member.GetLeadingTrivia().Where(t => t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia)))
                    members.Append("    ").Append(doc.ToFullString().TrimStart());
                members.Append("    ").Append(member.WithoutTrivia().ToFullString()).Append('\n');
            }
        }
        members.Append(fields);
        return (new RuleSource(source.Usings, members.ToString()), null);
    }

    /// <summary>Whether an attribute named <paramref name="name"/> (OptDsl's, however it is written) is in the lists.</summary>
    static bool HasAttribute(SyntaxList<AttributeListSyntax> lists, string name) =>
        lists.SelectMany(l => l.Attributes).Any(a =>
        {
            var written = a.Name.ToString();
            int dot = written.LastIndexOfAny(new[] { '.', ':' });
            var last = dot < 0 ? written : written.Substring(dot + 1);
            return last == name || last == name + "Attribute";
        });
}
