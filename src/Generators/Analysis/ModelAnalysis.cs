using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Analysis;

/// <summary>
/// The pipeline's analysis step, between parsing and emitting: runs every analysis once over a parsed model and
/// stores the results on it — each rule's hoisted host scalars (<see cref="Hoisting"/>) and usage
/// (<see cref="Usage"/>), the update's whole-tensor work, and the phases the fused backends run it in. Emitters read these; none recomputes them.
/// </summary>
public static class ModelAnalysis
{
    public static OptimizerModel Analyze(OptimizerModel parsed)
    {
        var update = Rule(parsed.Update);
        var analyzed = parsed with
        {
            Update = update,
            Refresh = parsed.Refresh is { } refresh ? Rule(refresh) : null,
            Work = WorkOf(parsed, update.Usage),
        };
        return analyzed with { Phases = ReductionPhases.Of(analyzed, update) };
    }

    static UpdateModel Rule(UpdateModel rule)
    {
        var hoisting = Hoisting.Apply(rule.Body.AsImmutableArray());
        var hoisted = rule with { Body = hoisting.Body.ToEquatableArray(), Hoisted = hoisting.Scalars.ToEquatableArray() };
        return hoisted with { Usage = Usage.Of(hoisted) };
    }

    static WholeTensorWork WorkOf(OptimizerModel model, RuleUsage usage)
    {
        var lineStates = model.States.Where(s => s.Shape != StateShapeModel.Elements)
            .Select(s => $"state '{s.Name}' per {(s.Shape == StateShapeModel.Rows ? "row" : "column")}");
        var functions = usage.WholeTensor.Select(f => f.Intrinsic()).ToList();
        var matrix = functions.Where(f => f.Kind is IntrinsicKind.Orthogonalization or IntrinsicKind.Shape
            or IntrinsicKind.RowReduction or IntrinsicKind.ColumnReduction).ToList();
        var descriptions = functions.Select(f => f.Display).Concat(lineStates).ToEquatableArray();
        if (descriptions.Count == 0) return WholeTensorWork.None;
        var steps = !functions.Any(f => f.NeedsSteps) ? StepsKind.None
            // Global reductions need every tensor of the step in lockstep; matrix work only needs same-shaped ones.
            : functions.Any(f => f.Kind is IntrinsicKind.GlobalReduction or IntrinsicKind.GroupReduction) ? StepsKind.AllTensors
            : StepsKind.PerShape;
        return new WholeTensorWork(
            descriptions,
            matrix.Select(f => f.Display).Concat(lineStates).ToEquatableArray(),
            // Orthogonalisation needs true matrices; row and column work takes vectors as matrices of one column.
            matrix.Any(f => f.Kind == IntrinsicKind.Orthogonalization) ? 2 : 1,
            steps);
    }
}
