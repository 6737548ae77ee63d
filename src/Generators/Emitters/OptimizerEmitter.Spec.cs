using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>The generated <c>Declaration</c>: the table of hyperparameters and state the runtime reads.</summary>
static partial class OptimizerEmitter
{
    static void Declaration(OptimizerModel model, CodeWriter w)
    {
        w.Doc("<summary>The declaration's hyperparameters and state, as the runtime reads them.</summary>");
        w.Line($"public static readonly {RuntimeApi.OptimizerSpec} Declaration = new {RuntimeApi.OptimizerSpec}(");
        w.Line($"    \"{model.ClassName}\",");
        w.Line($"    new {RuntimeApi.HyperSpec}[]");
        w.Line("    {");
        foreach (var h in model.Hypers)
        {
            var kind = h.Type switch { HyperType.Bool => "Flag", HyperType.Int => "Integer", _ => "Real" };
            var range = h.Range is { } r
                ? $"new {RuntimeApi.Interval}({Literals.Real(r.Min)}, {Bool(r.MinInclusive)}, {Literals.Real(r.Max)}, {Bool(r.MaxInclusive)})"
                : "null";
            var def = h.Default is { } d ? Literals.Real(d) : "null";
            w.Line($"        new {RuntimeApi.HyperSpec}(\"{h.Name}\", {RuntimeApi.HyperKind}.{kind}, {def}, {range}),");
        }
        w.Line("    },");
        w.Line($"    new {RuntimeApi.StateSpec}[]");
        w.Line("    {");
        foreach (var s in model.States)
        {
            var init = s.Init switch
            {
                StateInitModel.Hyper => "Hyper",
                StateInitModel.FirstGradient => "FirstGradient",
                StateInitModel.Parameter => "Parameter",
                _ => "Constant",
            };
            var hyperIndex = s.InitHyper is null ? -1 : IndexOf(model, s.InitHyper);
            var onlyIf = s.OnlyIf is null ? -1 : IndexOf(model, s.OnlyIf);
            var shape = s.Shape == StateShapeModel.Elements ? "" : $", {RuntimeApi.StateShape}.{s.Shape}";
            w.Line($"        new {RuntimeApi.StateSpec}(\"{s.Name}\", {RuntimeApi.StateInitKind}.{init}, {Literals.Real(s.Constant)}, {hyperIndex}, {onlyIf}{shape}),");
        }
        w.Line("    },");
        w.Line($"    new {RuntimeApi.ScalarStateSpec}[]");
        w.Line("    {");
        foreach (var s in model.ScalarStates)
            w.Line($"        new {RuntimeApi.ScalarStateSpec}(\"{s.Name}\", {Literals.Real(s.Initial)}),");
        var matrix = model.Work.MatrixWork;
        w.Line(matrix.Count == 0 ? "    });" : $"    }},\n    \"{string.Join(", ", matrix)}\", {model.Work.MatrixDimensions});");
    }

    static int IndexOf(OptimizerModel model, string hyper)
    {
        for (int i = 0; i < model.Hypers.Count; i++)
            if (model.Hypers[i].Name == hyper) return i;
        return -1;
    }
}
