using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// <c>UpdateCpu</c>: the element code over one contiguous float32 chunk — whole <c>Vector&lt;float&gt;</c>s first (the
/// vector target's body), then the scalar target's body for the elements left over. The runtime runs chunks of all
/// tensors in parallel.
/// </summary>
static class CpuLoop
{
    const string FloatVector = CpuVectorTarget.FloatVector;
    const string MaskVector = CpuVectorTarget.MaskVector;
    /// <summary>A span of floats as whole vectors.</summary>
    internal const string Cast = "global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, " + FloatVector + ">";

    /// <summary>
    /// <c>UpdateCpuPhase</c> of a rule with reductions: runs the method of the phase asked for (see
    /// <see cref="WriteUpdateCpu"/>).
    /// </summary>
    public static void WritePhaseDispatch(CodeWriter w, PhasePlan plan)
    {
        w.Doc($"<summary>The update rule's phase <paramref name=\"phase\"/> (1 to {plan.Phases}) over one contiguous float32 chunk on the CPU.</summary>");
        w.Open($"protected override void UpdateCpuPhase(int phase, {RuntimeApi.CpuChunk} chunk, global::System.ReadOnlySpan<float> s, global::System.ReadOnlySpan<float> r, global::System.Span<float> a)");
        w.Open("switch (phase)");
        for (int k = 1; k < plan.Phases; k++) w.Line($"case {k}: CpuPhase{k}(chunk, s, r, a); break;");
        w.Line($"default: CpuPhase{plan.Phases}(chunk, s, r); break;");
        w.Close();
        w.Close();
        w.Line();
    }

    /// <summary>
    /// The element code of one phase over a chunk. An elementwise rule's one phase is <c>UpdateCpu</c>; a rule with
    /// reductions has a method per phase: each but the last accumulates its reductions over the chunk (the vector
    /// lanes and the tail apart, combined at the end into <c>a</c>) and stores nothing; the last reads every
    /// reduction's result from <c>r</c> and stores the parameter and state.
    /// </summary>
    public static void WriteUpdateCpu(CodeWriter w, OptimizerModel model, IReadOnlyList<LocalModel> registers, CodeWriter vectorBody, CodeWriter scalarBody,
        IReadOnlyList<Slot> slots, PhaseView phase, CodeWriter? scalarRowPrologue = null, CodeWriter? vectorRowPrologue = null)
    {
        if (phase.Plan.RowWise)
        {
            CpuRowLoop.Write(w, model, registers, vectorBody, scalarBody, slots, phase, scalarRowPrologue!, vectorRowPrologue!);
            return;
        }
        var states = model.States;
        bool store = phase.IsLast;
        const string Spans = "global::System.ReadOnlySpan<float> s";
        if (!phase.Plan.HasReductions)
        {
            w.Doc("<summary>The update rule over one contiguous float32 chunk on the CPU: Vector&lt;float&gt; lanes, then a scalar tail.</summary>");
            w.Open($"protected override void UpdateCpu({RuntimeApi.CpuChunk} chunk, {Spans})");
        }
        else if (store)
        {
            w.Doc("<summary>The last phase over one chunk: the update with every reduction known, Vector&lt;float&gt; lanes, then a scalar tail.</summary>");
            w.Open($"void CpuPhase{phase.Number}({RuntimeApi.CpuChunk} chunk, {Spans}, global::System.ReadOnlySpan<float> r)");
        }
        else
        {
            var names = string.Join(", ", phase.Accumulated.Select(r => r.IsMatrix
                ? $"{r.Call.Function.Display()}'s argument into the runtime's matrix {r.Index}"
                : $"a[{r.Index}] ({r.Call.Function.Display()})"));
            var read = new[] { (VarKind.Param, model.Update.ParamName), (VarKind.Grad, model.Update.GradName) }
                .Concat(states.Select(st => (VarKind.State, st.Name)))
                .Where(v => phase.Needs.Uses(v.Item1, v.Item2)).Select(v => v.Item2);
            w.Doc($"<summary>Phase {phase.Number} over one chunk: {(phase.Accumulated.All(r => r.IsMatrix) ? "stores" : "accumulates")} {names} from {string.Join(", ", read)}; stores nothing{(phase.Accumulated.Any(r => r.IsMatrix) ? " else" : "")} (a later phase recomputes what it needs from memory).</summary>");
            w.Open($"void CpuPhase{phase.Number}({RuntimeApi.CpuChunk} chunk, {Spans}, global::System.ReadOnlySpan<float> r, global::System.Span<float> a)");
        }
        w.Line("var pSpan = chunk.Parameter;");
        w.Line("var gSpan = chunk.Gradient;");
        w.Line($"var pVectors = {Cast}(pSpan);");
        w.Line($"var gVectors = {Cast}(gSpan);");
        for (int i = 0; i < states.Count; i++)
        {
            w.Line($"var stSpan{i} = chunk.State({i});");
            w.Line($"var stVectors{i} = {Cast}(stSpan{i});");
            if (states[i].OnlyIf is { } flag) w.Line($"bool has{i} = !stSpan{i}.IsEmpty; // false unless {flag}");
        }
        WriteSlots(w, slots);
        foreach (var r in phase.Plan.Sums)
        {
            w.Line($"float {PhaseView.Result(r)} = {(phase.Knows(r) ? $"r[{r.Index}]" : "0f")};");
            w.Line($"var {CpuVectorTarget.ResultOf(r)} = new {FloatVector}({PhaseView.Result(r)});");
        }
        // Each matrix call's runtime matrix over the chunk: the phase that stores the argument writes it, later ones read the result.
        foreach (var m in phase.Plan.Matrices.Where(m => m.Level <= phase.Number))
        {
            w.Line($"var {CpuVectorTarget.MatrixSpan(m)} = chunk.Matrix({m.Index});");
            w.Line($"var {CpuVectorTarget.MatrixVectors(m)} = {Cast}({CpuVectorTarget.MatrixSpan(m)});");
        }
        foreach (var accumulated in phase.Accumulated.Where(r => !r.IsMatrix)) DeclareAccumulators(w, accumulated);

        // A phase before the last loads and declares only what it uses (PhaseNeeds).
        var needs = phase.Needs;
        var (readsP, readsG) = (needs.Uses(VarKind.Param, model.Update.ParamName), needs.Uses(VarKind.Grad, model.Update.GradName));
        var loaded = Enumerable.Range(0, states.Count).Where(i => needs.Uses(VarKind.State, states[i].Name)).ToList();
        registers = registers.Where(l => needs.Uses(VarKind.Local, l.Name)).ToList();

        w.Open("for (int i = 0; i < pVectors.Length; i++)");
        if (readsP) w.Line("var p = pVectors[i];");
        if (readsG) w.Line("var g = gVectors[i];");
        foreach (int i in loaded)
            w.Line($"var {ElementNames.State(states[i].Name)} = {Guard(states[i], i)}stVectors{i}[i]{(states[i].OnlyIf is null ? "" : " : default")};");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? MaskVector : FloatVector)} {ElementNames.Local(local.Name)} = default;");
        w.Append(vectorBody);
        if (store)
        {
            w.Line("pVectors[i] = p;");
            for (int i = 0; i < states.Count; i++) w.Line($"{Store(states[i], i)}stVectors{i}[i] = {ElementNames.State(states[i].Name)};");
        }
        w.Close();

        w.Open($"for (int i = pVectors.Length * {FloatVector}.Count; i < pSpan.Length; i++)");
        if (readsP) w.Line("var p = pSpan[i];");
        if (readsG) w.Line("var g = gSpan[i];");
        foreach (int i in loaded)
            w.Line($"var {ElementNames.State(states[i].Name)} = {Guard(states[i], i)}stSpan{i}[i]{(states[i].OnlyIf is null ? "" : " : 0f")};");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? "bool" : "float")} {ElementNames.Local(local.Name)} = {(local.Type == ValueKind.Boolean ? "false" : "0f")};");
        w.Append(scalarBody);
        if (store)
        {
            w.Line("pSpan[i] = p;");
            for (int i = 0; i < states.Count; i++) w.Line($"{Store(states[i], i)}stSpan{i}[i] = {ElementNames.State(states[i].Name)};");
        }
        w.Close();
        // The lanes in order, then the tail: the same bits on every run.
        foreach (var r in phase.Accumulated.Where(r => !r.IsMatrix)) w.Line($"a[{r.Index}] = {Combined(r)};");
        w.Close();
        if (!phase.IsLast) w.Line();
    }

    /// <summary>Each slot read once into a variable (and a float slot broadcast to the lanes).</summary>
    internal static void WriteSlots(CodeWriter w, IReadOnlyList<Slot> slots)
    {
        foreach (var slot in slots)
        {
            if (slot.Type == ValueKind.Boolean)
            {
                w.Line($"bool {slot.Variable} = s[{slot.Index}] != 0f;");
                continue;
            }
            w.Line($"float {slot.Variable} = s[{slot.Index}];");
            w.Line($"var {CpuVectorTarget.VectorOf(slot)} = new {FloatVector}({slot.Variable});");
        }
    }

    /// <summary>A reduction's accumulators: the lanes', and the tail's.</summary>
    internal static void DeclareAccumulators(CodeWriter w, PlannedReduction r)
    {
        var identity = Identity(r);
        w.Line($"var {CpuVectorTarget.AccumulatorOf(r)} = new {FloatVector}({identity});");
        w.Line($"float a_{r.Index} = {identity};");
    }

    /// <summary>A reduction's lanes in order, then its tail: the same bits on every run.</summary>
    internal static string Combined(PlannedReduction r)
    {
        var lanes = CpuVectorTarget.AccumulatorOf(r);
        return r.Op switch
        {
            "Max" or "MaxAbs" => $"global::System.MathF.Max({RuntimeApi.VectorMath}.MaxOfLanes({lanes}), a_{r.Index})",
            "Min" => $"global::System.MathF.Min({RuntimeApi.VectorMath}.MinOfLanes({lanes}), a_{r.Index})",
            _ => $"{RuntimeApi.VectorMath}.SumOfLanes({lanes}) + a_{r.Index}",
        };
    }

    /// <summary>What a reduction's accumulator starts at, as a C# float literal.</summary>
    internal static string Identity(PlannedReduction r) => r.Op switch
    {
        "Max" => "float.NegativeInfinity",
        "Min" => "float.PositiveInfinity",
        _ => "0f",
    };

    // Only state with an OnlyIf may be missing (its span empty); the rule reads and writes it only where its flag holds.
    internal static string Guard(StateModel state, int i) => state.OnlyIf is null ? "" : $"has{i} ? ";

    internal static string Store(StateModel state, int i) => state.OnlyIf is null ? "" : $"if (has{i}) ";
}
