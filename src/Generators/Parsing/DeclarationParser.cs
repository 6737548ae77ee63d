using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptDsl.Generators.Diagnostics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>The parse step's output: the model (null when the declaration has errors) and the diagnostics.</summary>
public sealed record ParseResult(OptimizerModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Reads an <c>[Optimizer]</c> class into an <see cref="OptimizerModel"/>: its shape, hyperparameters, state and
/// update method (whose body <see cref="BodyTranslator"/> translates), reporting every problem at the most
/// precise location. The only place that touches Roslyn symbols and syntax.
/// </summary>
public static class DeclarationParser
{
    const string Ns = "OptDsl.";
    const string HyperAttribute = Ns + "HyperAttribute";
    const string StateAttribute = Ns + "StateAttribute";
    const string ScalarStateAttribute = Ns + "ScalarStateAttribute";
    const string UpdateAttribute = Ns + "UpdateAttribute";
    const string RefreshAttribute = Ns + "RefreshAttribute";

    /// <summary>Constructor parameters beside the hyperparameters.</summary>
    static readonly HashSet<string> ConstructorParameters = new() { "parameters", "groups", "namedParameters" };

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (TypeDeclarationSyntax)context.TargetNode;
        // A class whose own name or namespace is not valid C# yet (half typed) is the compiler's to report; code
        // generated into that namespace would only add errors.
        if (syntax.Identifier.IsMissing || syntax.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().Any(n => n.Name.ContainsDiagnostics))
            return new ParseResult(null, diagnostics.ToEquatableArray());
        // Likewise members the compiler already rejects as such (two of one name, an unknown type): its error says it.
        if (DeclarationErrors.Possible(type, syntax)
            && context.SemanticModel.GetDeclarationDiagnostics(syntax.Span, cancellationToken).Any(d => d.Id is "CS0102" or "CS0111" or "CS0246"))
            return new ParseResult(null, diagnostics.ToEquatableArray());
        // [Optimizer] on several parts of one class (C# reports the duplicate attribute): the first part speaks for it.
        // A class of one part is that part (binding every attribute of it to find out took 3% of the generator's time).
        var marked = context.Attributes.Length == 0 || type.DeclaringSyntaxReferences.Length < 2 ? Enumerable.Empty<SyntaxNode>() : type.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>()
            .Where(d => d.AttributeLists.SelectMany(l => l.Attributes).Any(a =>
                ModelFor(context.SemanticModel, a).GetSymbolInfo(a, cancellationToken).Symbol?.ContainingType?.ToDisplayString() == OptimizerGenerator.OptimizerAttribute))
            .OrderBy(d => d.SyntaxTree.FilePath, System.StringComparer.Ordinal).ThenBy(d => d.SpanStart);
        if (marked.FirstOrDefault() is { } first && first != syntax)
            return new ParseResult(null, diagnostics.ToEquatableArray());
        var (baseType, modifiers) = Composition.Requested(context.Attributes.FirstOrDefault());
        OptimizerModel? model;
        if (baseType is not null) model = Composition.Parse(type, syntax, context.SemanticModel, diagnostics, cancellationToken);
        else
        {
            // A rule of its own is checked as written first, so its problems are reported where they are.
            model = ParseClass(type, syntax, context.SemanticModel, diagnostics, cancellationToken);
            if (model is not null && !diagnostics.Any(IsError))
                model = modifiers == 0
                    ? model with { Source = RuleSources.FromSyntax(type, context.SemanticModel.Compilation, cancellationToken) }
                    : Composition.Parse(type, syntax, context.SemanticModel, diagnostics, cancellationToken, errorsOnly: true);
        }
        // With an error, only a model of the class's surface (its rules left out) is kept.
        bool failed = diagnostics.Any(IsError);
        return new ParseResult(failed && model is not { RuleHasErrors: true } ? null : model, diagnostics.ToEquatableArray());
    }

    /// <summary>
    /// The class-level rules a declaring class must meet (a partial, top-level, plain class of a name the generated
    /// optimizer can hold). A composed class is checked here on the class the user wrote, as its composed stand-in is
    /// always of that shape.
    /// </summary>
    internal static void CheckShape(INamedTypeSymbol type, TypeDeclarationSyntax syntax, SemanticModel semanticModel,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        var name = type.Name;
        var at = syntax.Identifier.GetLocation();
        void Report(DiagnosticDescriptor d, Location? where, params object?[] args) => diagnostics.Add(DiagnosticInfo.Create(d, where, args));

        if (syntax is not ClassDeclarationSyntax)
            Report(DiagnosticDescriptors.UnsupportedClassShape, at, name, "a record");
        else if (type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>()
                 .Any(d => !d.Modifiers.Any(SyntaxKind.PartialKeyword)))
            Report(DiagnosticDescriptors.NotPartial, at, name);
        if (type.ContainingType is not null) Report(DiagnosticDescriptors.UnsupportedClassShape, at, name, "nested in another type");
        if (type.IsGenericType) Report(DiagnosticDescriptors.UnsupportedClassShape, syntax.TypeParameterList?.GetLocation() ?? at, name, "generic");
        if (type.IsStatic) Report(DiagnosticDescriptors.UnsupportedClassShape, at, name, "static");
        else if (type.IsAbstract) Report(DiagnosticDescriptors.UnsupportedClassShape, at, name, "abstract");
        // The class holds members of these names (a class cannot hold a member of its own name).
        if (ReservedNames.OptimizerMembers.Contains(name))
            Report(DiagnosticDescriptors.NameClash, at, name, "a member of the generated optimizer, which a class cannot have its own name for");
        else if (name == "var")
            Report(DiagnosticDescriptors.NameClash, at, name, "C#'s 'var', which the generated code declares its locals with");
        foreach (var declaration in type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>())
        {
            var baseClass = declaration.BaseList?.Types.FirstOrDefault(t =>
                ModelFor(semanticModel, t).GetTypeInfo(t.Type, cancellationToken).Type?.TypeKind == TypeKind.Class);
            if (baseClass is not null) Report(DiagnosticDescriptors.DeclaresBaseClass, baseClass.GetLocation(), name);
        }
    }

    /// <summary>Parses a class of the declaration's members (also one composed from a base and modifiers).</summary>
    internal static OptimizerModel? ParseClass(INamedTypeSymbol type, TypeDeclarationSyntax syntax, SemanticModel semanticModel,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        var name = type.Name;
        var at = syntax.Identifier.GetLocation();
        void Report(DiagnosticDescriptor d, Location? where, params object?[] args) => diagnostics.Add(DiagnosticInfo.Create(d, where, args));

        CheckShape(type, syntax, semanticModel, diagnostics, cancellationToken);

        var roles = new Roles();
        var hypers = new List<HyperModel>();
        var states = new List<StateModel>();
        var scalarStates = new List<ScalarStateModel>();
        var stateFields = new List<(IFieldSymbol Field, StateModel Model)>();
        var updateMethods = new List<IMethodSymbol>();
        var refreshMethods = new List<IMethodSymbol>();

        foreach (var member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            // An override (Dispose(bool), Locked, say) extends the runtime's base class rather than hiding a generated member.
            bool clashes = (ReservedNames.OptimizerMembers.Contains(member.Name) && !member.IsOverride)
                || (member.Name is "Update" or "Refresh" && member is not IMethodSymbol);
            if (!member.IsImplicitlyDeclared && clashes)
                Report(DiagnosticDescriptors.NameClash, member.Locations.FirstOrDefault(), member.Name, "a member of the generated optimizer");

            if (member is IMethodSymbol method && Has(method, UpdateAttribute))
                updateMethods.Add(method);
            if (member is IMethodSymbol refresh && Has(refresh, RefreshAttribute))
                refreshMethods.Add(refresh);
            if (member is not IFieldSymbol field) continue;

            bool isHyper = Has(field, HyperAttribute), isState = Has(field, StateAttribute), isScalar = Has(field, ScalarStateAttribute);
            if (!isHyper && !isState && !isScalar) continue;
            var fieldAt = field.Locations.FirstOrDefault();
            if ((isHyper ? 1 : 0) + (isState ? 1 : 0) + (isScalar ? 1 : 0) > 1)
            {
                Report(DiagnosticDescriptors.ConflictingRoles, fieldAt, field.Name);
                continue;
            }
            if (field.IsConst || field.IsStatic)
            {
                Report(DiagnosticDescriptors.RoleOnStaticField, fieldAt, field.Name, field.IsConst ? "const" : "static");
                continue;
            }
            var declarator = field.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as VariableDeclaratorSyntax;
            var typeAt = (declarator?.Parent as VariableDeclarationSyntax)?.Type.GetLocation() ?? fieldAt;
            var summary = DocComments.Summary(declarator?.Parent?.Parent);

            if (isHyper && ParseHyper(field, declarator, typeAt, summary, semanticModel, Report, cancellationToken) is { } hyper)
            {
                hypers.Add(hyper);
                roles.Hypers[field] = hyper;
            }
            else if (isState)
            {
                if (field.Type.SpecialType != SpecialType.System_Single)
                {
                    Report(DiagnosticDescriptors.InvalidStateType, typeAt, field.Name, field.Type.ToDisplayString(), "per-element state must be float");
                    continue;
                }
                var initial = Initializer(field, declarator, semanticModel, Report, cancellationToken);
                if (initial is null) continue;
                var attribute = field.GetAttributes().First(a => a.AttributeClass?.ToDisplayString() == StateAttribute);
                var state = new StateModel(field.Name, StateInitModel.Constant, initial.Value, null,
                    Named(attribute, "OnlyIf") as string, summary,
                    Named(attribute, "Shape") switch { 1 => StateShapeModel.Rows, 2 => StateShapeModel.Columns, _ => StateShapeModel.Elements });
                var initFrom = Named(attribute, "InitFrom") as string;
                // StateInit's values: 0 Zero, 1 FirstGradient, 2 Parameter.
                var fromUpdate = Named(attribute, "Init") switch
                {
                    1 => StateInitModel.FirstGradient,
                    2 => StateInitModel.Parameter,
                    _ => (StateInitModel?)null,
                };
                if (initFrom is not null && fromUpdate is not null)
                    Report(DiagnosticDescriptors.InvalidStateInit, fieldAt, field.Name, $"give either Init = StateInit.{fromUpdate} or InitFrom, not both");
                else if ((initFrom is not null || fromUpdate is not null) && declarator?.Initializer is not null)
                    Report(DiagnosticDescriptors.InvalidStateInit, declarator.Initializer.GetLocation(), field.Name, "a field initializer cannot be combined with Init or InitFrom");
                else if (fromUpdate is not null && state.Shape != StateShapeModel.Elements)
                    Report(DiagnosticDescriptors.InvalidStateInit, fieldAt, field.Name, $"state of one value per {(state.Shape == StateShapeModel.Rows ? "row" : "column")} starts at a constant or a hyperparameter, not from the first gradient or the parameter");
                else if (initFrom is not null) state = state with { Init = StateInitModel.Hyper, InitHyper = initFrom };
                else if (fromUpdate is { } init) state = state with { Init = init };
                states.Add(state);
                stateFields.Add((field, state));
                roles.States[field] = state;
            }
            else if (isScalar)
            {
                if (field.Type.SpecialType is not (SpecialType.System_Double or SpecialType.System_Single))
                {
                    Report(DiagnosticDescriptors.InvalidStateType, typeAt, field.Name, field.Type.ToDisplayString(), "scalar state must be double or float");
                    continue;
                }
                var initial = Initializer(field, declarator, semanticModel, Report, cancellationToken);
                if (initial is null) continue;
                var scalar = new ScalarStateModel(field.Name, initial.Value, summary);
                scalarStates.Add(scalar);
                roles.ScalarStates[field] = scalar;
            }
        }

        foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            if ((Has(field, HyperAttribute) || Has(field, StateAttribute) || Has(field, ScalarStateAttribute))
                && !roles.Hypers.ContainsKey(field) && !roles.States.ContainsKey(field) && !roles.ScalarStates.ContainsKey(field))
                roles.Broken.Add(field);

        foreach (var field in CheckStateReferences(stateFields, hypers, Report))
        {
            roles.States.Remove(field);
            roles.Broken.Add(field);
        }
        CheckNames(hypers, states, scalarStates, type, Report);
        CheckConstructors(type, hypers, Report, cancellationToken);

        // Past this point a problem is in the rules. Where the class and its members are sound, the class still gets
        // its public surface (constructors, options, state) with an update that cannot run, so that call sites
        // compile and the rule's own error is the only one the build shows.
        bool membersSound = !diagnostics.Any(IsError);
        OptimizerModel Model(UpdateModel update, UpdateModel? refresh) => new(
            type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
            name,
            type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
            DocComments.Summary(syntax),
            hypers.ToEquatableArray(), states.ToEquatableArray(), scalarStates.ToEquatableArray(), update, refresh);
        OptimizerModel? Surface() => membersSound ? Model(UpdateModel.None, null) with { RuleHasErrors = true } : null;

        if (updateMethods.Count == 0)
        {
            Report(DiagnosticDescriptors.NoUpdateMethod, at, name);
            return Surface();
        }
        foreach (var extra in updateMethods.Skip(1))
            Report(DiagnosticDescriptors.SeveralUpdateMethods, extra.Locations.FirstOrDefault(), name, extra.Name);

        var update = updateMethods[0];
        if (refreshMethods.Contains(update, SymbolEqualityComparer.Default))
        {
            Report(DiagnosticDescriptors.InvalidRefresh, update.Locations.FirstOrDefault(), update.Name, "is also the [Update] method; give the refresh rule a method of its own");
            return Surface();
        }
        if (!CheckSignature(update, roles, Report, cancellationToken)) return Surface();
        if (TranslateRule(update, roles, semanticModel, diagnostics, cancellationToken) is not var (updateModel, updateTranslation)) return Surface();
        var writtenStates = new HashSet<string>(updateTranslation.WrittenStates);

        UpdateModel? refreshModel = null;
        foreach (var extra in refreshMethods.Skip(1))
            Report(DiagnosticDescriptors.InvalidRefresh, extra.Locations.FirstOrDefault(), extra.Name, $"is a second [Refresh] method of '{name}'; keep one");
        if (refreshMethods.Count > 0)
        {
            var refresh = refreshMethods[0];
            if (!CheckRefreshSignature(refresh, roles, Report)) return Surface();
            if (TranslateRule(refresh, roles, semanticModel, diagnostics, cancellationToken) is not var (translatedRefresh, refreshTranslation)) return Surface();
            refreshModel = translatedRefresh;
            writtenStates.UnionWith(refreshTranslation.WrittenStates);
            if (refreshTranslation.WholeTensorCalls.Count > 0)
            {
                var f = refreshTranslation.WholeTensorCalls.Min;
                Report(DiagnosticDescriptors.InvalidRefresh, refresh.Locations.FirstOrDefault(), refresh.Name,
                    $"calls {f.Display()}; a refresh rule works element by element: move whole-tensor work into the estimate it is given");
                return Surface();
            }
            foreach (var (field, state) in stateFields)
                if (state.Init is StateInitModel.FirstGradient or StateInitModel.Parameter && refreshTranslation.WrittenStates.Contains(state.Name))
                {
                    Report(DiagnosticDescriptors.InvalidRefresh, refresh.Locations.FirstOrDefault(), refresh.Name,
                        $"writes state '{state.Name}', which starts from the {(state.Init == StateInitModel.Parameter ? "parameter" : "first gradient")} at the first step and would overwrite a refresh made before it; start it at a constant");
                    return Surface();
                }
        }

        // State that starts from the parameter or the first gradient may stay as it started: an anchor (DoG's x0).
        foreach (var (field, state) in stateFields)
            if (roles.States.ContainsKey(field) && !writtenStates.Contains(state.Name)
                && state.Init is not (StateInitModel.Parameter or StateInitModel.FirstGradient))
                Report(DiagnosticDescriptors.StateNeverWritten, field.Locations.FirstOrDefault(), state.Name);

        return membersSound && diagnostics.Any(IsError) ? Surface() : Model(updateModel, refreshModel);
    }

    static bool IsError(DiagnosticInfo d) => DiagnosticDescriptors.ById(d.Id).DefaultSeverity == DiagnosticSeverity.Error;

    /// <summary>Translates the body of a rule method (update or refresh) under the current roles; null on an error.</summary>
    static (UpdateModel Rule, BodyTranslator Translation)? TranslateRule(IMethodSymbol method, Roles roles, SemanticModel semanticModel,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        var methodSyntax = method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as MethodDeclarationSyntax;
        if (methodSyntax is null || (methodSyntax.Body is null && methodSyntax.ExpressionBody is null))
        {
            diagnostics.Add(DiagnosticInfo.Create(roles.Param is null ? DiagnosticDescriptors.InvalidRefresh : DiagnosticDescriptors.InvalidUpdateSignature,
                method.Locations.FirstOrDefault(), method.Name, roles.Param is null ? "needs a body" : "it needs a body"));
            return null;
        }

        if (NestingDepth.FirstTooDeep(methodSyntax.Body ?? (SyntaxNode)methodSyntax.ExpressionBody!) is var (deep, depth))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedTooDeeply, deep.GetLocation(), depth, NestingDepth.Limit));
            return null;
        }
        var bodyModel = ModelFor(semanticModel, methodSyntax);
        var operation = bodyModel.GetOperation(methodSyntax, cancellationToken);
        if (operation is null) return null;
        // A body C# rejects (a local read before it is assigned, a type error) gets only the compiler's errors. Asking
        // the compiler binds and flow-analyses the body a second time, which took half the generator's time over the
        // catalog, so it is asked only where the translation leaves room for such an error: a syntax error, an
        // operation C# could not bind, a diagnostic of ours, or a local that may be read before it is assigned.
        bool RejectedByCompiler() =>
            bodyModel.GetMethodBodyDiagnostics(methodSyntax.Span, cancellationToken).Any(d => d.Severity == DiagnosticSeverity.Error);
        var reported = new List<DiagnosticInfo>();
        BodyTranslator translator;
        ImmutableArray<Stmt> body;
        try
        {
            translator = new BodyTranslator(roles, reported);
            body = translator.Translate(operation);
        }
        catch (System.Exception e) when (e is not System.OperationCanceledException && RejectedByCompiler())
        {
            // The translator now meets bodies C# rejects before anyone has asked; such a body is the compiler's to report.
            return null;
        }
        bool mayBeRejected = methodSyntax.ContainsDiagnostics || translator.HasCompilerErrors || reported.Count > 0
            || (translator.Succeeded && UnassignedReads.MayOccur(body));
        if (mayBeRejected && RejectedByCompiler()) return null;
        diagnostics.AddRange(reported);
        if (!translator.Succeeded) return null;
        var rule = new UpdateModel(
            roles.Param?.Name ?? "", roles.Grad!.Name, roles.Step?.Name, roles.Step?.Type.SpecialType == SpecialType.System_Int64,
            body.ToEquatableArray(), translator.Locals.ToEquatableArray(),
            (methodSyntax.Body ?? (SyntaxNode)methodSyntax.ExpressionBody!).ToString());
        return (rule, translator);
    }

    /// <summary>A refresh rule takes the estimate for one element: <c>void Refresh(float e)</c>.</summary>
    static bool CheckRefreshSignature(IMethodSymbol method, Roles roles, System.Action<DiagnosticDescriptor, Location?, object?[]> report)
    {
        var ps = method.Parameters;
        string? problem = null;
        if (method.IsStatic) problem = "must not be static";
        else if (!method.ReturnsVoid) problem = "must return void";
        else if (method.IsGenericMethod) problem = "must not be generic";
        else if (ps.Length != 1 || ps[0].RefKind != RefKind.None || ps[0].Type.SpecialType != SpecialType.System_Single)
            problem = "must look like 'void " + method.Name + "(float e)': it takes the estimate for one element, and reads hyperparameters and state as fields";
        if (problem is not null)
        {
            report(DiagnosticDescriptors.InvalidRefresh, method.Locations.FirstOrDefault(), new object?[] { method.Name, problem });
            return false;
        }
        roles.Param = null;
        roles.Grad = ps[0];
        roles.Step = null;
        return true;
    }

    static HyperModel? ParseHyper(IFieldSymbol field, VariableDeclaratorSyntax? declarator, Location? typeAt, string? summary,
        SemanticModel semanticModel, System.Action<DiagnosticDescriptor, Location?, object?[]> report, CancellationToken cancellationToken)
    {
        HyperType? hyperType = field.Type.SpecialType switch
        {
            SpecialType.System_Single => HyperType.Float,
            SpecialType.System_Double => HyperType.Double,
            SpecialType.System_Int32 => HyperType.Int,
            SpecialType.System_Boolean => HyperType.Bool,
            _ => null,
        };
        if (hyperType is null)
        {
            report(DiagnosticDescriptors.InvalidHyperType, typeAt, new object?[] { field.Name, field.Type.ToDisplayString(), "use float, double, int or bool" });
            return null;
        }
        if (field.Name == "lr" && hyperType is not (HyperType.Float or HyperType.Double))
        {
            report(DiagnosticDescriptors.InvalidHyperType, typeAt, new object?[] { field.Name, field.Type.ToDisplayString(), "the learning rate 'lr' must be float or double" });
            return null;
        }

        RangeModel? range = null;
        var attribute = field.GetAttributes().First(a => a.AttributeClass?.ToDisplayString() == HyperAttribute);
        if (attribute.ConstructorArguments.FirstOrDefault().Value is string rangeText)
        {
            var rangeAt = (attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax)?.ArgumentList?.Arguments.FirstOrDefault()?.GetLocation();
            if (hyperType == HyperType.Bool)
            {
                report(DiagnosticDescriptors.InvalidRange, rangeAt, new object?[] { rangeText, field.Name, "a bool hyperparameter has no range" });
                return null;
            }
            range = RangeParser.Parse(rangeText, out var error);
            if (range is null)
            {
                report(DiagnosticDescriptors.InvalidRange, rangeAt, new object?[] { rangeText, field.Name, error });
                return null;
            }
        }

        double? defaultValue = null;
        if (declarator?.Initializer is { } initializer)
        {
            var constant = ModelFor(semanticModel, initializer).GetConstantValue(initializer.Value, cancellationToken);
            if (!constant.HasValue)
            {
                report(DiagnosticDescriptors.DefaultNotConstant, initializer.Value.GetLocation(), new object?[] { field.Name });
                return null;
            }
            // A constant of another kind ("text", null) does not convert: that is the compiler's error to report.
            if (!Constants.IsNumeric(constant.Value)) return null;
            defaultValue = Constants.ToDouble(constant.Value, field.Type);
            if (range is not null && !RangeParser.Contains(range, defaultValue.Value))
            {
                report(DiagnosticDescriptors.DefaultOutsideRange, initializer.Value.GetLocation(), new object?[] { initializer.Value.ToString(), field.Name, range.Text });
                return null;
            }
            // Without a range the runtime takes any finite value (and refuses NaN everywhere): so must the default.
            if (range is null && hyperType is not HyperType.Bool && !IsFinite(defaultValue.Value))
            {
                report(DiagnosticDescriptors.DefaultOutsideRange, initializer.Value.GetLocation(), new object?[] { initializer.Value.ToString(), field.Name, "of finite values" });
                return null;
            }
            // The runtime checks real values as the float32 the update computes in; a default it would refuse is an
            // error here, not at the first construction.
            if (hyperType is HyperType.Float or HyperType.Double && Float32Refuses(defaultValue.Value, range) is { } made)
            {
                report(DiagnosticDescriptors.DefaultOutsideRange, initializer.Value.GetLocation(),
                    new object?[] { $"{initializer.Value} (float32 makes it {made})", field.Name, range?.Text ?? "of finite float32 values" });
                return null;
            }
        }
        return new HyperModel(field.Name, hyperType.Value, defaultValue, range, summary);
    }

    static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);

    /// <summary>What float32 makes of <paramref name="value"/> where the runtime would refuse it (overflow, out of range, zero or subnormal where zero is excluded), else null.</summary>
    static string? Float32Refuses(double value, RangeModel? range)
    {
        float single = (float)value;
        bool refused = (float.IsInfinity(single) && !double.IsInfinity(value))
            || (range is not null && (!RangeParser.Contains(range, single)
                || (!RangeParser.Contains(range, 0) && (single == 0 || System.Math.Abs(single) < 1.17549435E-38f))));
        return refused ? single.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    static double? Initializer(IFieldSymbol field, VariableDeclaratorSyntax? declarator, SemanticModel semanticModel,
        System.Action<DiagnosticDescriptor, Location?, object?[]> report, CancellationToken cancellationToken)
    {
        if (declarator?.Initializer is not { } initializer) return 0;
        var constant = ModelFor(semanticModel, initializer).GetConstantValue(initializer.Value, cancellationToken);
        // A constant of another kind ("text", null) does not convert: that is the compiler's error to report.
        if (constant.HasValue && Constants.IsNumeric(constant.Value)) return Constants.ToDouble(constant.Value, field.Type);
        if (constant.HasValue) return null;
        report(DiagnosticDescriptors.DefaultNotConstant, initializer.Value.GetLocation(), new object?[] { field.Name });
        return null;
    }

    /// <summary>Reports state whose InitFrom or OnlyIf names no suitable hyperparameter, and returns those fields.</summary>
    static List<IFieldSymbol> CheckStateReferences(List<(IFieldSymbol Field, StateModel Model)> states, List<HyperModel> hypers,
        System.Action<DiagnosticDescriptor, Location?, object?[]> report)
    {
        var invalid = new List<IFieldSymbol>();
        foreach (var (field, state) in states)
        {
            var at = field.Locations.FirstOrDefault();
            if (state.InitHyper is { } from && hypers.FirstOrDefault(h => h.Name == from) is not { Type: not HyperType.Bool })
            {
                report(DiagnosticDescriptors.InvalidStateInit, at, new object?[] { state.Name, $"InitFrom names '{from}', which is not a numeric hyperparameter of this optimizer" });
                invalid.Add(field);
            }
            else if (state.OnlyIf is { } flag && !hypers.Any(h => h.Name == flag))
            {
                report(DiagnosticDescriptors.InvalidStateInit, at, new object?[] { state.Name, $"OnlyIf names '{flag}', which is not a hyperparameter of this optimizer" });
                invalid.Add(field);
            }
        }
        return invalid;
    }

    static void CheckNames(List<HyperModel> hypers, List<StateModel> states, List<ScalarStateModel> scalarStates, INamedTypeSymbol type,
        System.Action<DiagnosticDescriptor, Location?, object?[]> report)
    {
        Location? Where(string field) => type.GetMembers(field).FirstOrDefault()?.Locations.FirstOrDefault();

        var hyperProperties = new Dictionary<string, string>();
        foreach (var h in hypers)
        {
            if (h.IsLearningRate || ReservedNames.OptimizerMembers.Contains(h.Name)) continue;
            var property = Names.Pascal(h.Name);
            if (h.Name == "learningRate" || ReservedNames.OptionsMembers.Contains(property))
                report(DiagnosticDescriptors.NameClash, Where(h.Name), new object?[] { h.Name, $"the options' member '{property}'" + (h.Name == "learningRate" ? " (name the learning rate 'lr')" : "") });
            else if (ConstructorParameters.Contains(h.Name))
                report(DiagnosticDescriptors.NameClash, Where(h.Name), new object?[] { h.Name, "a constructor parameter of the generated optimizer" });
            else if (hyperProperties.TryGetValue(property, out var other))
                report(DiagnosticDescriptors.NameClash, Where(h.Name), new object?[] { h.Name, $"hyperparameter '{other}' (both become the option '{property}')" });
            else hyperProperties[property] = h.Name;
        }

        var stateProperties = new Dictionary<string, string>();
        foreach (var s in states.Select(s => s.Name).Concat(scalarStates.Select(s => s.Name)))
        {
            if (ReservedNames.OptimizerMembers.Contains(s)) continue; // already reported as a clash with the optimizer's members
            var property = Names.Pascal(s);
            if (ReservedNames.StateMembers.Contains(property))
                report(DiagnosticDescriptors.NameClash, Where(s), new object?[] { s, $"the state's member '{property}'" });
            else if (stateProperties.TryGetValue(property, out var other))
                report(DiagnosticDescriptors.NameClash, Where(s), new object?[] { s, $"state '{other}' (both become the property '{property}')" });
            else stateProperties[property] = s;
        }
    }

    /// <summary>
    /// Reports a constructor the class declares that would not compile beside the generated ones: one that does not call
    /// a generated constructor with <c>: this(...)</c> (the runtime's base class has no constructor it could call), or
    /// one with the parameter types of a generated constructor.
    /// </summary>
    static void CheckConstructors(INamedTypeSymbol type, List<HyperModel> hypers, System.Action<DiagnosticDescriptor, Location?, object?[]> report,
        CancellationToken cancellationToken)
    {
        // The generated constructors take one of these, then every hyperparameter (required ones first).
        var first = new[]
        {
            "System.Collections.Generic.IEnumerable<TorchSharp.Modules.Parameter>",
            "System.Collections.Generic.IEnumerable<(string name, TorchSharp.Modules.Parameter parameter)>",
            $"System.Collections.Generic.IEnumerable<TorchSharp.Modules.ParamGroup<{type.ToDisplayString()}.Options>>",
        };
        var rest = hypers.Where(h => h.Default is null).Concat(hypers.Where(h => h.Default is not null))
            .Select(h => h.Type switch { HyperType.Bool => SpecialType.System_Boolean, HyperType.Int => SpecialType.System_Int32, _ => SpecialType.System_Double })
            .ToList();
        foreach (var constructor in type.InstanceConstructors.Where(c => !c.IsImplicitlyDeclared))
        {
            var syntax = constructor.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as ConstructorDeclarationSyntax;
            var at = syntax?.Identifier.GetLocation() ?? constructor.Locations.FirstOrDefault();
            var ps = constructor.Parameters;
            if (syntax?.Initializer is not { } initializer || !initializer.ThisOrBaseKeyword.IsKind(SyntaxKind.ThisKeyword))
                report(DiagnosticDescriptors.ConstructorClash, at, new object?[] { type.Name, "does not call a generated constructor with ': this(...)'" });
            else if (ps.Length == rest.Count + 1 && first.Contains(ps[0].Type.ToDisplayString())
                     && ps.Skip(1).Select(p => p.Type.SpecialType).SequenceEqual(rest))
                report(DiagnosticDescriptors.ConstructorClash, at, new object?[] { type.Name, "has the parameters of a generated constructor" });
        }
    }

    static bool CheckSignature(IMethodSymbol method, Roles roles, System.Action<DiagnosticDescriptor, Location?, object?[]> report,
        CancellationToken cancellationToken)
    {
        var at = method.Locations.FirstOrDefault();
        string? problem = null;
        Location? where = at;
        var ps = method.Parameters;
        if (method.IsStatic) problem = "it must not be static";
        else if (!method.ReturnsVoid) problem = "it must return void";
        else if (method.IsGenericMethod) problem = "it must not be generic";
        else if (ps.Length is < 2 or > 3) problem = $"it takes {ps.Length} parameters";
        else if (ps[0].RefKind != RefKind.Ref || ps[0].Type.SpecialType != SpecialType.System_Single)
            (problem, where) = ("the first parameter, the element, must be 'ref float'", ps[0].Locations.FirstOrDefault());
        else if (ps[1].RefKind != RefKind.None || ps[1].Type.SpecialType != SpecialType.System_Single)
            (problem, where) = ("the second parameter, its gradient, must be 'float'", ps[1].Locations.FirstOrDefault());
        else if (ps.Length == 3 && (ps[2].RefKind != RefKind.None || ps[2].Type.SpecialType is not (SpecialType.System_Int32 or SpecialType.System_Int64)))
            (problem, where) = ("the third parameter, the step, must be 'int' or 'long'", ps[2].Locations.FirstOrDefault());
        if (problem is not null)
        {
            report(DiagnosticDescriptors.InvalidUpdateSignature, where, new object?[] { method.Name, problem });
            return false;
        }
        roles.Param = ps[0];
        roles.Grad = ps[1];
        roles.Step = ps.Length == 3 ? ps[2] : null;
        return true;
    }

    static bool Has(ISymbol symbol, string attribute) =>
        symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == attribute);

    static object? Named(AttributeData attribute, string name) =>
        attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value;

    static SemanticModel ModelFor(SemanticModel model, SyntaxNode node) =>
        node.SyntaxTree == model.SyntaxTree ? model : model.Compilation.GetSemanticModel(node.SyntaxTree);
}
