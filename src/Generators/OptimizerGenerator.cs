using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using OptDsl.Generators.Analysis;
using OptDsl.Generators.Diagnostics;
using OptDsl.Generators.Emitters;
using OptDsl.Generators.Model;
using OptDsl.Generators.Parsing;

namespace OptDsl.Generators;

/// <summary>
/// Turns every <c>[Optimizer]</c> partial class into a TorchSharp optimizer: parse (symbols and syntax into a plain
/// model, with diagnostics) -> analyze (hoisting, usage, whole-tensor work, once, stored on the model) -> emit (the
/// model into C#). Models and diagnostics flow as separate equatable values, so an edit that changes neither re-emits
/// nothing.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class OptimizerGenerator : IIncrementalGenerator
{
    public const string OptimizerAttribute = "OptDsl.OptimizerAttribute";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(OptimizerAttribute,
                static (node, _) => node is TypeDeclarationSyntax,
                static (ctx, ct) => ParseSafely(ctx, ct))
            .WithTrackingName(TrackingNames.Parse);

        var diagnostics = parsed.Select(static (r, _) => r.Diagnostics).WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var d in list) spc.ReportDiagnostic(d.ToDiagnostic());
        });

        var models = parsed.Select(static (r, _) => r.Model).WithTrackingName(TrackingNames.Model);
        // Every optimizer's name, so that two whose names differ only in case get distinct files (hint names are
        // compared without case); it changes only when a class is added, removed or renamed.
        var names = parsed.Select(static (r, _) => r.Model is null ? null : OptimizerEmitter.FullName(r.Model))
            .Collect().WithTrackingName(TrackingNames.Names);
        context.RegisterSourceOutput(models.Combine(names), static (spc, pair) =>
        {
            var (model, allNames) = pair;
            if (model is null) return;
            string source;
            try
            {
                source = OptimizerEmitter.Emit(model);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The emitter never fails on a valid model; if it does, say so instead of breaking the build with AD0001.
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, Location.None, model.ClassName, e.GetType().Name + ": " + e.Message));
                return;
            }
            spc.AddSource(OptimizerEmitter.HintName(model, allNames), SourceText.From(source, System.Text.Encoding.UTF8));
        });

        // Any assembly that uses the runtime calls the TorchSharp loading fix before its code runs.
        var usesRuntime = context.CompilationProvider
            .Select(static (c, _) => NativeFixEmitter.Applies(c))
            .WithTrackingName(TrackingNames.NativeFix);
        context.RegisterSourceOutput(usesRuntime, static (spc, applies) =>
        {
            if (applies) spc.AddSource(NativeFixEmitter.HintName, SourceText.From(NativeFixEmitter.Source, System.Text.Encoding.UTF8));
        });
    }

    static ParseResult ParseSafely(GeneratorAttributeSyntaxContext context, System.Threading.CancellationToken cancellationToken)
    {
        try
        {
            var parsed = DeclarationParser.Parse(context, cancellationToken);
            return parsed.Model is null ? parsed : parsed with { Model = ModelAnalysis.Analyze(parsed.Model) };
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            // A bug must not break the user's build with AD0001: say what failed, where.
            var info = DiagnosticInfo.Create(DiagnosticDescriptors.InternalError,
                (context.TargetNode as TypeDeclarationSyntax)?.Identifier.GetLocation() ?? context.TargetNode.GetLocation(),
                context.TargetSymbol.Name, e.GetType().Name + ": " + e.Message);
            return new ParseResult(null, new[] { info }.ToEquatableArray());
        }
    }
}

/// <summary>Names of the pipeline steps, for incrementality tests.</summary>
public static class TrackingNames
{
    public const string Parse = nameof(Parse);
    public const string Diagnostics = nameof(Diagnostics);
    public const string Model = nameof(Model);
    public const string NativeFix = nameof(NativeFix);
    public const string Names = nameof(Names);
}
