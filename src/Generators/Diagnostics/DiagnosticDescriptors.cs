using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace OptDsl.Generators.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports. Each message names the offending thing and says how to fix it;
/// docs/diagnostics.md has one section per id.
/// </summary>
public static class DiagnosticDescriptors
{
    const string Category = "OptDsl";

    static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = Error("OPT0001",
        "Optimizer class must be partial",
        "Optimizer '{0}' must be declared 'partial' so that the generator can complete it");

    public static readonly DiagnosticDescriptor NoUpdateMethod = Error("OPT0002",
        "Optimizer has no update method",
        "Optimizer '{0}' has no [Update] method; add '[Update] void Update(ref float p, float g, int t)' with the rule for one element");

    public static readonly DiagnosticDescriptor SeveralUpdateMethods = Error("OPT0003",
        "Optimizer has more than one update method",
        "Optimizer '{0}' has more than one [Update] method ('{1}'); keep one and fold the others into it");

    public static readonly DiagnosticDescriptor InvalidUpdateSignature = Error("OPT0004",
        "Update method has the wrong signature",
        "Update method '{0}' must look like 'void {0}(ref float p, float g, int t)' (t optional): {1}");

    public static readonly DiagnosticDescriptor UnsupportedStatement = Error("OPT0005",
        "Statement not supported in an update rule",
        "'{0}' is not supported in an update rule: {1}");

    public static readonly DiagnosticDescriptor UnsupportedExpression = Error("OPT0006",
        "Expression not supported in an update rule",
        "'{0}' is not supported in an update rule: {1}");

    public static readonly DiagnosticDescriptor UnsupportedCall = Error("OPT0007",
        "Method cannot be called in an update rule",
        "'{0}' is not a function an update rule can call; it can call {1}");

    public static readonly DiagnosticDescriptor InvalidHyperType = Error("OPT0008",
        "Hyperparameter has an unsupported type",
        "Hyperparameter '{0}' has type '{1}'; {2}");

    public static readonly DiagnosticDescriptor InvalidStateType = Error("OPT0009",
        "State has an unsupported type",
        "State '{0}' has type '{1}'; {2}");

    public static readonly DiagnosticDescriptor HyperAssigned = Error("OPT0010",
        "Hyperparameter assigned in the update rule",
        "Hyperparameter '{0}' is assigned in the update rule; hyperparameters are read-only there (use a local, or a [State] or [ScalarState] field)");

    public static readonly DiagnosticDescriptor NameClash = Error("OPT0011",
        "Name clashes with a generated member",
        "'{0}' clashes with {1}; rename it");

    public static readonly DiagnosticDescriptor DefaultNotConstant = Error("OPT0012",
        "Default value is not a constant",
        "The initial value of '{0}' must be a compile-time constant");

    public static readonly DiagnosticDescriptor InvalidRange = Error("OPT0013",
        "Hyperparameter range is malformed",
        "Range \"{0}\" of hyperparameter '{1}' is malformed ({2}); write an interval such as \"[0, 1)\", \"(0, inf)\" or \"[-1, 1]\"");

    public static readonly DiagnosticDescriptor DefaultOutsideRange = Error("OPT0014",
        "Default value outside the declared range",
        "The default {0} of hyperparameter '{1}' lies outside its range {2}; change the default or the range");

    public static readonly DiagnosticDescriptor UnsupportedClassShape = Error("OPT0015",
        "Optimizer class has an unsupported shape",
        "Optimizer '{0}' cannot be {1}; declare it as a top-level, non-generic, non-static, non-abstract partial class");

    public static readonly DiagnosticDescriptor DeclaresBaseClass = Error("OPT0016",
        "Optimizer class declares a base class",
        "Optimizer '{0}' must not declare a base class; its generated part derives from OptDsl.Runtime.Core.DeclaredOptimizer");

    public static readonly DiagnosticDescriptor FieldWithoutRole = Error("OPT0017",
        "Field is not a hyperparameter or state",
        "Field '{0}' is used in the update rule but is not marked [Hyper], [State] or [ScalarState]; mark it, or make it a const");

    public static readonly DiagnosticDescriptor StepAssigned = Error("OPT0018",
        "Step number assigned",
        "The step number '{0}' is read-only; copy it to a local to compute with it");

    public static readonly DiagnosticDescriptor InvalidStateInit = Error("OPT0019",
        "State initialisation is invalid",
        "State '{0}': {1}");

    public static readonly DiagnosticDescriptor ConditionalStateOutsideCondition = Error("OPT0020",
        "Conditional state used where it may not exist",
        "State '{0}' exists only while '{1}' is true or nonzero; use it only inside 'if ({1}) {{ ... }}' or 'if ({1} != 0) {{ ... }}' (or the matching arm of '?:')");

    public static readonly DiagnosticDescriptor ScalarStateAssignedPerElement = Error("OPT0021",
        "Scalar state assigned a per-element value",
        "Scalar state '{0}' holds one value per tensor but is assigned here {1}; compute it from hyperparameters, the step and other scalar state only");

    public static readonly DiagnosticDescriptor ConflictingRoles = Error("OPT0022",
        "Field has more than one role",
        "Field '{0}' is marked more than one of [Hyper], [State] and [ScalarState]; keep one");

    public static readonly DiagnosticDescriptor RoleOnStaticField = Error("OPT0023",
        "Hyperparameter or state is static or const",
        "Field '{0}' is {1}; hyperparameters and state must be instance fields");

    public static readonly DiagnosticDescriptor StateNeverWritten = new("OPT0024",
        "State is never written",
        "State '{0}' is never written by the update rule, so it keeps its initial value; write it or make it a hyperparameter",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = Error("OPT0025",
        "The generator failed",
        "The OptDsl generator failed on '{0}' ({1}); this is a bug in OptDsl, please report it with the declaration");

    public static readonly DiagnosticDescriptor InvalidReduction = Error("OPT0026",
        "Reduction cannot apply here",
        "'{0}' {1}");

    public static readonly DiagnosticDescriptor LineStateAssigned = Error("OPT0027",
        "Row or column state is given a value that varies along it",
        "State '{0}' holds one value per {1}, but is given {2}; give it a value per {1} (as Matrix.{3}Mean(...)) or one the same for every element");

    public static readonly DiagnosticDescriptor InvalidRefresh = Error("OPT0028",
        "Refresh method cannot be used",
        "Refresh method '{0}' {1}");

    public static readonly DiagnosticDescriptor NestedTooDeeply = Error("OPT0029",
        "Update rule nested too deeply",
        "The rule nests {0} levels deep here, past the limit of {1}; compute parts of it into locals, or shorten the chain of conditions");

    public static readonly DiagnosticDescriptor ConstructorClash = Error("OPT0030",
        "Constructor clashes with the generated ones",
        "The constructor of '{0}' {1}; the generated constructors take the parameters and every hyperparameter: remove it, or give it other parameters and call a generated one with ': this(...)'");

    public static readonly DiagnosticDescriptor InvalidComposition = Error("OPT0031",
        "Base or modifiers cannot be applied",
        "'{0}' cannot be composed: {1}");

    public static readonly IReadOnlyList<DiagnosticDescriptor> All = new[]
    {
        NotPartial, NoUpdateMethod, SeveralUpdateMethods, InvalidUpdateSignature, UnsupportedStatement,
        UnsupportedExpression, UnsupportedCall, InvalidHyperType, InvalidStateType, HyperAssigned, NameClash,
        DefaultNotConstant, InvalidRange, DefaultOutsideRange, UnsupportedClassShape, DeclaresBaseClass,
        FieldWithoutRole, StepAssigned, InvalidStateInit, ConditionalStateOutsideCondition,
        ScalarStateAssignedPerElement, ConflictingRoles, RoleOnStaticField, StateNeverWritten, InternalError,
        InvalidReduction, LineStateAssigned, InvalidRefresh, NestedTooDeeply, ConstructorClash, InvalidComposition,
    };

    static readonly Dictionary<string, DiagnosticDescriptor> _byId = All.ToDictionary(d => d.Id);

    public static DiagnosticDescriptor ById(string id) => _byId[id];
}
