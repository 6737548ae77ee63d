namespace OptDsl.Generators.Model;

/// <summary>
/// An optimizer declaration: plain values only (no Roslyn symbols or syntax), so the pipeline can cache it and every
/// backend's emitter walks the same thing. The parser fills what the declaration says; the analysis step adds what
/// follows from it (<see cref="Work"/>, and each rule's hoisted scalars and usage), once.
/// </summary>
public sealed record OptimizerModel(
    string? Namespace,
    string ClassName,
    string Accessibility,
    string? Summary,
    EquatableArray<HyperModel> Hypers,
    EquatableArray<StateModel> States,
    EquatableArray<ScalarStateModel> ScalarStates,
    UpdateModel Update,
    UpdateModel? Refresh = null)
{
    /// <summary>The update's work on whole tensors, which decides the backends it gets (from the analysis step).</summary>
    public WholeTensorWork Work { get; init; } = WholeTensorWork.None;

    /// <summary>How the fused backends run the update: its phases, or why they cannot (from the analysis step).</summary>
    public PhasePlan Phases { get; init; } = PhasePlan.Elementwise;

    /// <summary>The declaration's members as source, which the generated class carries for declarations that take it as their base.</summary>
    public RuleSource? Source { get; init; }

    /// <summary>
    /// Whether the rules have errors (reported as diagnostics, or C#'s own): the model then holds the class's surface
    /// only — hyperparameters and state — and the generated class an update that cannot run.
    /// </summary>
    public bool RuleHasErrors { get; init; }
}

public enum HyperType { Float, Double, Int, Bool }

/// <summary>A hyperparameter; <paramref name="Default"/> is null when the constructor requires it.</summary>
public sealed record HyperModel(string Name, HyperType Type, double? Default, RangeModel? Range, string? Summary)
{
    public bool IsLearningRate => Name == "lr";
}

/// <summary>A declared interval such as <c>[0, 1)</c>.</summary>
public sealed record RangeModel(double Min, bool MinInclusive, double Max, bool MaxInclusive, string Text);

public enum StateInitModel { Constant, Hyper, FirstGradient, Parameter }

/// <summary>A per-element state. <paramref name="OnlyIf"/> names the bool hyperparameter it depends on, if any.</summary>
public sealed record StateModel(string Name, StateInitModel Init, double Constant, string? InitHyper, string? OnlyIf, string? Summary,
    StateShapeModel Shape = StateShapeModel.Elements);

/// <summary>How many values a state holds per parameter: one per element, per row or per column of the matrix view.</summary>
public enum StateShapeModel { Elements, Rows, Columns }

/// <summary>A per-tensor scalar state.</summary>
public sealed record ScalarStateModel(string Name, double Initial, string? Summary);

/// <summary>
/// The update rule (or the refresh rule, whose <paramref name="GradName"/> is its estimate and whose
/// <paramref name="ParamName"/> is empty): the names its parameters had in the declaration, its statements, the locals
/// it declares (each with a unique name and its type), and its source text for docs. The analysis step hoists host-only
/// sub-expressions out of the statements into <see cref="Hoisted"/> and records <see cref="Usage"/>.
/// </summary>
public sealed record UpdateModel(
    string ParamName,
    string GradName,
    string? StepName,
    bool StepIsLong,
    EquatableArray<Stmt> Body,
    EquatableArray<LocalModel> Locals,
    string SourceText)
{
    /// <summary>Host-only values computed once per step and tensor, which <see cref="Hoisted"/> expressions in the body read.</summary>
    public EquatableArray<HoistedScalar> Hoisted { get; init; } = EquatableArray<HoistedScalar>.Empty;

    /// <summary>What the rule reads and writes.</summary>
    public RuleUsage Usage { get; init; } = RuleUsage.None;

    /// <summary>No rule: what a class whose rules have errors is given.</summary>
    public static readonly UpdateModel None = new("p", "g", null, false, EquatableArray<Stmt>.Empty, EquatableArray<LocalModel>.Empty, "");
}

/// <summary>A local of the update rule, under its unique name.</summary>
public sealed record LocalModel(string Name, ValueKind Type);
