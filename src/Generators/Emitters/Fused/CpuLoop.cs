using System.Collections.Generic;
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
    const string Cast = "global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, " + FloatVector + ">";

    public static void WriteUpdateCpu(CodeWriter w, OptimizerModel model, IReadOnlyList<LocalModel> registers, CodeWriter vectorBody, CodeWriter scalarBody, IReadOnlyList<Slot> slots)
    {
        var states = model.States;
        w.Doc("<summary>The update rule over one contiguous float32 chunk on the CPU: Vector&lt;float&gt; lanes, then a scalar tail.</summary>");
        w.Open($"protected override void UpdateCpu({RuntimeApi.CpuChunk} chunk, global::System.ReadOnlySpan<float> s)");
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

        w.Open("for (int i = 0; i < pVectors.Length; i++)");
        w.Line("var p = pVectors[i];");
        w.Line("var g = gVectors[i];");
        for (int i = 0; i < states.Count; i++)
            w.Line($"var {ElementNames.State(states[i].Name)} = {Guard(states[i], i)}stVectors{i}[i]{(states[i].OnlyIf is null ? "" : " : default")};");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? MaskVector : FloatVector)} {ElementNames.Local(local.Name)} = default;");
        w.Append(vectorBody);
        w.Line("pVectors[i] = p;");
        for (int i = 0; i < states.Count; i++) w.Line($"{Store(states[i], i)}stVectors{i}[i] = {ElementNames.State(states[i].Name)};");
        w.Close();

        w.Open($"for (int i = pVectors.Length * {FloatVector}.Count; i < pSpan.Length; i++)");
        w.Line("var p = pSpan[i];");
        w.Line("var g = gSpan[i];");
        for (int i = 0; i < states.Count; i++)
            w.Line($"var {ElementNames.State(states[i].Name)} = {Guard(states[i], i)}stSpan{i}[i]{(states[i].OnlyIf is null ? "" : " : 0f")};");
        foreach (var local in registers)
            w.Line($"{(local.Type == ValueKind.Boolean ? "bool" : "float")} {ElementNames.Local(local.Name)} = {(local.Type == ValueKind.Boolean ? "false" : "0f")};");
        w.Append(scalarBody);
        w.Line("pSpan[i] = p;");
        for (int i = 0; i < states.Count; i++) w.Line($"{Store(states[i], i)}stSpan{i}[i] = {ElementNames.State(states[i].Name)};");
        w.Close();
        w.Close();
    }

    // Only state with an OnlyIf may be missing (its span empty); the rule reads and writes it only where its flag holds.
    static string Guard(StateModel state, int i) => state.OnlyIf is null ? "" : $"has{i} ? ";

    static string Store(StateModel state, int i) => state.OnlyIf is null ? "" : $"if (has{i}) ";
}
