using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// A phase of a rule with work per row or column (<see cref="PhasePlan.RowWise"/>) over one chunk on the CPU. The
/// runtime cuts such a tensor into chunks of whole rows of its matrix view, so the loop goes row by row: a row's values
/// (its state kept per row, its reductions per row) are read once and broadcast to the lanes; a column's values lie in
/// a span indexed like the row, so the lanes load them side by side. A chunk owns its rows: it accumulates their
/// reductions per row whole and writes their state per row at the end of the row. Column state is read from the
/// copy the runtime takes before the step and written by the chunk holding row 0; reductions per column go into the
/// chunk's own partials, which the runtime combines in chunk order.
/// </summary>
static class CpuRowLoop
{
    const string FloatVector = CpuVectorTarget.FloatVector;
    const string MaskVector = CpuVectorTarget.MaskVector;
    const string Cast = CpuLoop.Cast;

    public static void Write(CodeWriter w, OptimizerModel model, IReadOnlyList<LocalModel> registers, CodeWriter vectorBody, CodeWriter scalarBody,
        IReadOnlyList<Slot> slots, PhaseView phase, CodeWriter scalarPrologue, CodeWriter vectorPrologue)
    {
        var states = model.States;
        bool store = phase.IsLast;
        var needs = phase.Needs;
        var accumulated = phase.Accumulated.Where(r => !r.IsMatrix).ToList();
        w.Doc(store
            ? "<summary>The last phase over one chunk of whole rows: the update with every reduction known, row by row (Vector&lt;float&gt; lanes, then a scalar tail).</summary>"
            : $"<summary>Phase {phase.Number} over one chunk of whole rows: accumulates {string.Join(", ", phase.Accumulated.Select(Describe))}, row by row; stores nothing{(phase.Accumulated.Any(r => r.IsMatrix) ? " else" : "")}.</summary>");
        w.Open($"void CpuPhase{phase.Number}({RuntimeApi.CpuChunk} chunk, global::System.ReadOnlySpan<float> s, global::System.ReadOnlySpan<float> r{(store ? "" : ", global::System.Span<float> a")})");
        w.Line("int columns = chunk.Columns;");
        w.Line("var pChunk = chunk.Parameter;");
        w.Line("var gChunk = chunk.Gradient;");
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i].Shape)
            {
                case StateShapeModel.Rows:
                    w.Line($"var stRows{i} = chunk.WholeState({i}); // one value per row");
                    break;
                case StateShapeModel.Columns:
                    w.Line($"var stColumns{i} = chunk.WholeState({i}); // one value per column, written by the chunk of row 0");
                    w.Line($"var stColumnVectors{i} = {Cast}(stColumns{i});");
                    w.Line($"var stBefore{i} = chunk.StateBefore({i}); // as it was before the step, which every chunk reads");
                    w.Line($"var stBeforeVectors{i} = {Cast}(stBefore{i});");
                    break;
                default:
                    w.Line($"var stChunk{i} = chunk.State({i});");
                    break;
            }
            if (states[i].OnlyIf is { } flag)
                w.Line($"bool has{i} = !{states[i].Shape switch { StateShapeModel.Rows => "stRows", StateShapeModel.Columns => "stColumns", _ => "stChunk" }}{i}.IsEmpty; // false unless {flag}");
        }
        CpuLoop.WriteSlots(w, slots);
        foreach (var r in phase.Plan.Sums)
        {
            bool known = phase.Knows(r);
            if (r.Scope == ReductionScope.Row && (known || r.Level == phase.Number))
                w.Line($"var {PerRow(r)} = chunk.PerRow({r.Index}); // {Describe(r)}{(known ? "" : ", accumulated here")}");
            else if (r.Scope == ReductionScope.Column && known)
            {
                w.Line($"var {PerColumn(r)} = chunk.PerColumn({r.Index}); // {Describe(r)}");
                w.Line($"var {PerColumnVectors(r)} = {Cast}({PerColumn(r)});");
            }
            if (r.PerRowOrColumn && known) continue;
            // A value for the whole tensor, or one not known yet (0, and nothing this phase accumulates reads it).
            w.Line($"float {PhaseView.Result(r)} = {(known ? $"r[{r.Index}]" : "0f")};");
            w.Line($"var {CpuVectorTarget.ResultOf(r)} = new {FloatVector}({PhaseView.Result(r)});");
        }
        foreach (var r in accumulated.Where(r => r.Scope == ReductionScope.Column))
        {
            w.Line($"var {CpuScalarTarget.ColumnPartials(r)} = chunk.ColumnPartials({r.Index}); // {Describe(r)}, this chunk's part");
            w.Line($"var {CpuVectorTarget.ColumnPartialVectors(r)} = {Cast}({CpuScalarTarget.ColumnPartials(r)});");
        }
        foreach (var m in phase.Plan.Matrices.Where(m => m.Level <= phase.Number))
            w.Line($"var mChunk{m.Index} = chunk.Matrix({m.Index});");
        var (readsP, readsG) = (needs.Uses(VarKind.Param, model.Update.ParamName), needs.Uses(VarKind.Grad, model.Update.GradName));
        var loaded = Enumerable.Range(0, states.Count).Where(i => needs.Uses(VarKind.State, states[i].Name)).ToList();
        registers = registers.Where(l => needs.Uses(VarKind.Local, l.Name)).ToList();
        if (!store && !readsP && !readsG && accumulated.Count > 0 && accumulated.All(r => r.Scope == ReductionScope.Tensor)
            && !phase.Plan.Matrices.Any()
            && loaded.All(i => states[i].Shape == StateShapeModel.Rows)
            && !phase.Plan.Sums.Any(r => r.Scope == ReductionScope.Column && phase.Knows(r) && needs.Reads(r)))
        {
            WriteOnceARow(w, states, registers, scalarBody, scalarPrologue, phase, accumulated, loaded);
            return;
        }
        foreach (var r in accumulated.Where(r => !r.PerRowOrColumn)) DeclareAccumulators(w, r);

        w.Open("for (int row = 0, rows = chunk.Rows; row < rows; row++)");
        w.Line("int at = chunk.Row + row; // the row in the tensor");
        w.Line("var pSpan = pChunk.Slice(row * columns, columns);");
        w.Line("var gSpan = gChunk.Slice(row * columns, columns);");
        w.Line($"var pVectors = {Cast}(pSpan);");
        w.Line($"var gVectors = {Cast}(gSpan);");
        foreach (int i in Enumerable.Range(0, states.Count))
        {
            switch (states[i].Shape)
            {
                case StateShapeModel.Rows:
                    if (!loaded.Contains(i) && !store) break;
                    w.Line($"float stRow{i} = {CpuLoop.Guard(states[i], i)}stRows{i}[at]{(states[i].OnlyIf is null ? "" : " : 0f")};");
                    w.Line($"var stRowVector{i} = new {FloatVector}(stRow{i});");
                    if (store) w.Line($"float stRowOut{i} = stRow{i};");
                    break;
                case StateShapeModel.Elements:
                    w.Line($"var stSpan{i} = stChunk{i}.IsEmpty ? stChunk{i} : stChunk{i}.Slice(row * columns, columns);");
                    w.Line($"var stVectors{i} = {Cast}(stSpan{i});");
                    break;
            }
        }
        foreach (var r in phase.Plan.Sums.Where(r => r.Scope == ReductionScope.Row && phase.Knows(r)))
        {
            w.Line($"float {PhaseView.Result(r)} = {PerRow(r)}[at];");
            w.Line($"var {CpuVectorTarget.ResultOf(r)} = new {FloatVector}({PhaseView.Result(r)});");
        }
        foreach (var r in accumulated.Where(r => r.Scope == ReductionScope.Row)) DeclareAccumulators(w, r);
        foreach (var m in phase.Plan.Matrices.Where(m => m.Level <= phase.Number))
        {
            w.Line($"var {CpuVectorTarget.MatrixSpan(m)} = mChunk{m.Index}.Slice(row * columns, columns);");
            w.Line($"var {CpuVectorTarget.MatrixVectors(m)} = {Cast}({CpuVectorTarget.MatrixSpan(m)});");
        }
        var columnResults = phase.Plan.Sums.Where(r => r.Scope == ReductionScope.Column && phase.Knows(r)).ToList();
        // What is the same along the row, once (RowValues): the scalar tail's, then the lanes'.
        w.Append(scalarPrologue);
        w.Append(vectorPrologue);

        // Lanes add in float for a block of vectors at most, then into a double: a long row of one repeated value (a
        // value per row, broadcast) would otherwise drift by its length times the rounding.
        var folded = accumulated.Where(r => r.Scope != ReductionScope.Column).ToList();
        if (folded.Count > 0)
        {
            w.Open($"for (int block = 0; block < pVectors.Length; block += {BlockVectors})");
            w.Open($"for (int i = block, end = global::System.Math.Min(block + {BlockVectors}, pVectors.Length); i < end; i++)");
        }
        else w.Open("for (int i = 0; i < pVectors.Length; i++)");
        if (readsP) w.Line("var p = pVectors[i];");
        if (readsG) w.Line("var g = gVectors[i];");
        foreach (int i in loaded)
        {
            var name = ElementNames.State(states[i].Name);
            w.Line(states[i].Shape switch
            {
                StateShapeModel.Rows => $"var {name} = stRowVector{i};",
                StateShapeModel.Columns => $"var {name} = {CpuLoop.Guard(states[i], i)}stBeforeVectors{i}[i]{(states[i].OnlyIf is null ? "" : " : default")};",
                _ => $"var {name} = {CpuLoop.Guard(states[i], i)}stVectors{i}[i]{(states[i].OnlyIf is null ? "" : " : default")};",
            });
        }
        foreach (var r in columnResults) w.Line($"var {CpuVectorTarget.ResultOf(r)} = {PerColumnVectors(r)}[i];");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? MaskVector : FloatVector)} {ElementNames.Local(local.Name)} = default;");
        w.Append(vectorBody);
        if (store)
        {
            w.Line("pVectors[i] = p;");
            for (int i = 0; i < states.Count; i++)
            {
                var name = ElementNames.State(states[i].Name);
                w.Line(states[i].Shape switch
                {
                    StateShapeModel.Rows => $"stRowOut{i} = {name}[0];",
                    StateShapeModel.Columns => $"if (at == 0{(states[i].OnlyIf is null ? "" : $" && has{i}")}) stColumnVectors{i}[i] = {name};",
                    _ => $"{CpuLoop.Store(states[i], i)}stVectors{i}[i] = {name};",
                });
            }
        }
        w.Close();
        if (folded.Count > 0)
        {
            foreach (var r in folded)
            {
                w.Line(Fold(r, Lanes(r)));
                w.Line($"{CpuVectorTarget.AccumulatorOf(r)} = new {FloatVector}({CpuLoop.Identity(r)});");
            }
            w.Close();
        }

        w.Open($"for (int i = pVectors.Length * {FloatVector}.Count; i < pSpan.Length; i++)");
        if (readsP) w.Line("var p = pSpan[i];");
        if (readsG) w.Line("var g = gSpan[i];");
        foreach (int i in loaded)
        {
            var name = ElementNames.State(states[i].Name);
            w.Line(states[i].Shape switch
            {
                StateShapeModel.Rows => $"var {name} = stRow{i};",
                StateShapeModel.Columns => $"var {name} = {CpuLoop.Guard(states[i], i)}stBefore{i}[i]{(states[i].OnlyIf is null ? "" : " : 0f")};",
                _ => $"var {name} = {CpuLoop.Guard(states[i], i)}stSpan{i}[i]{(states[i].OnlyIf is null ? "" : " : 0f")};",
            });
        }
        foreach (var r in columnResults) w.Line($"float {PhaseView.Result(r)} = {PerColumn(r)}[i];");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? "bool" : "float")} {ElementNames.Local(local.Name)} = {(local.Type == ValueKind.Boolean ? "false" : "0f")};");
        w.Append(scalarBody);
        if (store)
        {
            w.Line("pSpan[i] = p;");
            for (int i = 0; i < states.Count; i++)
            {
                var name = ElementNames.State(states[i].Name);
                w.Line(states[i].Shape switch
                {
                    StateShapeModel.Rows => $"stRowOut{i} = {name};",
                    StateShapeModel.Columns => $"if (at == 0{(states[i].OnlyIf is null ? "" : $" && has{i}")}) stColumns{i}[i] = {name};",
                    _ => $"{CpuLoop.Store(states[i], i)}stSpan{i}[i] = {name};",
                });
            }
        }
        w.Close();
        if (store)
            for (int i = 0; i < states.Count; i++)
                if (states[i].Shape == StateShapeModel.Rows) w.Line($"{CpuLoop.Store(states[i], i)}stRows{i}[at] = stRowOut{i}; // the row's value, the same in every lane");
        // The tail after the lanes' blocks, in double; a row's reduction is whole in its chunk.
        foreach (var r in folded)
        {
            w.Line(Fold(r, $"a_{r.Index}"));
            if (r.Scope == ReductionScope.Row) w.Line($"{PerRow(r)}[at] = (float){Folded(r)};");
            else w.Line($"a_{r.Index} = {CpuLoop.Identity(r)};");
        }
        w.Close();
        foreach (var r in accumulated.Where(r => !r.PerRowOrColumn)) w.Line($"a[{r.Index}] = (float){Folded(r)};");
        w.Close();
        if (!phase.IsLast) w.Line();
    }

    /// <summary>
    /// A phase that reads no element — only values per row, such as Adafactor's mean of its row averages — runs its
    /// scalar code once per row and counts what it accumulates once for each of the row's elements (a sum of the
    /// row's value times the columns; a maximum or minimum as it is), as the pass over every element would.
    /// </summary>
    static void WriteOnceARow(CodeWriter w, IReadOnlyList<StateModel> states, IReadOnlyList<LocalModel> registers, CodeWriter scalarBody,
        CodeWriter scalarPrologue, PhaseView phase, IReadOnlyList<PlannedReduction> accumulated, IReadOnlyList<int> loaded)
    {
        foreach (var r in accumulated)
        {
            w.Line($"double {Folded(r)} = {CpuLoop.Identity(r)};");
            w.Line($"float a_{r.Index} = {CpuLoop.Identity(r)};");
        }
        w.Open("for (int row = 0, rows = chunk.Rows; row < rows; row++) // no element is read: once per row");
        w.Line("int at = chunk.Row + row; // the row in the tensor");
        foreach (int i in loaded)
        {
            w.Line($"float stRow{i} = {CpuLoop.Guard(states[i], i)}stRows{i}[at]{(states[i].OnlyIf is null ? "" : " : 0f")};");
            w.Line($"var {ElementNames.State(states[i].Name)} = stRow{i};");
        }
        foreach (var r in phase.Plan.Sums.Where(r => r.Scope == ReductionScope.Row && phase.Knows(r)))
            w.Line($"float {PhaseView.Result(r)} = {PerRow(r)}[at];");
        w.Append(scalarPrologue);
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? "bool" : "float")} {ElementNames.Local(local.Name)} = {(local.Type == ValueKind.Boolean ? "false" : "0f")};");
        w.Append(scalarBody);
        foreach (var r in accumulated)
        {
            w.Line(r.Op is "Max" or "MaxAbs" or "Min" ? Fold(r, $"a_{r.Index}") : $"{Folded(r)} += (double)a_{r.Index} * columns;");
            w.Line($"a_{r.Index} = {CpuLoop.Identity(r)};");
        }
        w.Close();
        foreach (var r in accumulated) w.Line($"a[{r.Index}] = (float){Folded(r)};");
        w.Close();
        w.Line();
    }

    /// <summary>Vectors a block adds in float before its lanes go into the double (512 elements with 8 lanes).</summary>
    const int BlockVectors = 64;

    /// <summary>A reduction's accumulators: a double for what the blocks have folded, the lanes', and the tail's.</summary>
    static void DeclareAccumulators(CodeWriter w, PlannedReduction r)
    {
        w.Line($"double {Folded(r)} = {CpuLoop.Identity(r)};");
        CpuLoop.DeclareAccumulators(w, r);
    }

    static string Folded(PlannedReduction r) => "ad_" + r.Index;

    /// <summary>The lanes of a reduction's vector accumulator as one float, in lane order.</summary>
    static string Lanes(PlannedReduction r) => r.Op switch
    {
        "Max" or "MaxAbs" => $"{RuntimeApi.VectorMath}.MaxOfLanes({CpuVectorTarget.AccumulatorOf(r)})",
        "Min" => $"{RuntimeApi.VectorMath}.MinOfLanes({CpuVectorTarget.AccumulatorOf(r)})",
        _ => $"{RuntimeApi.VectorMath}.SumOfLanes({CpuVectorTarget.AccumulatorOf(r)})",
    };

    /// <summary>Adds <paramref name="value"/> (a float) into the reduction's double (NaN wins a maximum or minimum, as Math.Max has it).</summary>
    static string Fold(PlannedReduction r, string value) => r.Op switch
    {
        "Max" or "MaxAbs" => $"{Folded(r)} = global::System.Math.Max({Folded(r)}, {value});",
        "Min" => $"{Folded(r)} = global::System.Math.Min({Folded(r)}, {value});",
        _ => $"{Folded(r)} += {value};",
    };

    static string Describe(PlannedReduction r) => r.IsMatrix
        ? $"{r.Call.Function.Display()}'s argument into the runtime's matrix {r.Index}"
        : $"reduction {r.Index} ({r.Call.Function.Display()})";

    /// <summary>The tensor's results (or, in the phase accumulating them, sums) of a reduction per row, one per row.</summary>
    static string PerRow(PlannedReduction r) => "perRow" + r.Index;

    /// <summary>The tensor's results of a reduction per column, one per column.</summary>
    static string PerColumn(PlannedReduction r) => "perColumn" + r.Index;

    static string PerColumnVectors(PlannedReduction r) => "perColumnVectors" + r.Index;

}
