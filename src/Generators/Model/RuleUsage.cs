namespace OptDsl.Generators.Model;

/// <summary>
/// What a rule reads and writes — hyperparameters, state, scalar state, the step — and the whole-tensor functions it
/// calls (in <see cref="MathFunction"/> order), so that emitters bind only what is used. Worked out once per model by
/// the analysis step.
/// </summary>
public sealed record RuleUsage(
    EquatableArray<string> Hypers,
    EquatableArray<string> States,
    EquatableArray<string> ScalarStates,
    bool Step,
    EquatableArray<MathFunction> WholeTensor)
{
    public static readonly RuleUsage None = new(EquatableArray<string>.Empty, EquatableArray<string>.Empty,
        EquatableArray<string>.Empty, false, EquatableArray<MathFunction>.Empty);

    public bool UsesHyper(string name) => System.Linq.Enumerable.Contains(Hypers, name);

    public bool UsesState(string name) => System.Linq.Enumerable.Contains(States, name);
}
