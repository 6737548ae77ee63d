using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// The <c>Vector&lt;float&gt;</c> C# target of the fused CPU backend, and <c>UpdateCpu</c>, which runs it over a chunk's
/// whole vectors and the scalar body over the tail. A per-element condition is a lane mask (<c>Vector&lt;int&gt;</c>):
/// both branches run, each assignment applied only to the lanes its branch selects.
/// </summary>
sealed partial class FusedEmitter
{
    const string VectorType = "global::System.Numerics.Vector";
    const string FloatVector = "global::System.Numerics.Vector<float>";
    const string MaskVector = "global::System.Numerics.Vector<int>";
    const string VectorMath = RuntimeApi.VectorMath;

    /// <summary>Vector code and what it holds: lanes of floats, a lane mask, or one bool for all lanes.</summary>
    readonly record struct VectorCode(string Code, VectorKind Kind);

    enum VectorKind { Floats, Mask, Uniform }

    VectorCode Vector(Expr e)
    {
        if (e is Constant constant)
            return constant.Type == ValueKind.Boolean
                ? new(constant.Value != 0 ? "true" : "false", VectorKind.Uniform)
                : new($"new {FloatVector}({ScalarLiteral(constant.Value)})", VectorKind.Floats);
        if (!e.Varying) return VectorRead(Slot(Host(e), e.Type), e.Type);
        switch (e)
        {
            case Reference r:
                return _env[(r.Kind, r.Name)] switch
                {
                    DeviceValue d => new(d.Name, r.Type == ValueKind.Boolean ? VectorKind.Mask : VectorKind.Floats),
                    HostValue h => VectorRead(Slot(h.Code, h.Type), h.Type),
                    _ => throw new System.InvalidOperationException($"read of unassigned '{r.Name}'"),
                };
            case Unary { Op: UnaryOp.Negate } u:
                return new($"(-{Vector(u.Operand).Code})", VectorKind.Floats);
            case Unary u:
                return new($"(~{AsMask(Vector(u.Operand))})", VectorKind.Mask);
            case Binary { Op: BinaryOp.And or BinaryOp.Or } b:
                return new($"({AsMask(Vector(b.Left))} {(b.Op == BinaryOp.And ? "&" : "|")} {AsMask(Vector(b.Right))})", VectorKind.Mask);
            case Binary { Left.Type: ValueKind.Boolean } b:
            {
                // Comparing two conditions lane by lane: equal where both masks agree.
                var same = $"(~({AsMask(Vector(b.Left))} ^ {AsMask(Vector(b.Right))}))";
                return new(b.Op == BinaryOp.Equal ? same : $"(~{same})", VectorKind.Mask);
            }
            case Binary b:
            {
                var (l, r) = (Vector(b.Left).Code, Vector(b.Right).Code);
                return b.Op switch
                {
                    BinaryOp.Add or BinaryOp.Subtract or BinaryOp.Multiply or BinaryOp.Divide =>
                        new($"({l} {HostExpressions.Operator(b.Op)} {r})", VectorKind.Floats),
                    BinaryOp.Remainder => new($"{VectorMath}.Remainder({l}, {r})", VectorKind.Floats),
                    BinaryOp.Less => new($"{VectorType}.LessThan({l}, {r})", VectorKind.Mask),
                    BinaryOp.LessEqual => new($"{VectorType}.LessThanOrEqual({l}, {r})", VectorKind.Mask),
                    BinaryOp.Greater => new($"{VectorType}.GreaterThan({l}, {r})", VectorKind.Mask),
                    BinaryOp.GreaterEqual => new($"{VectorType}.GreaterThanOrEqual({l}, {r})", VectorKind.Mask),
                    BinaryOp.Equal => new($"{VectorType}.Equals({l}, {r})", VectorKind.Mask),
                    _ => new($"(~{VectorType}.Equals({l}, {r}))", VectorKind.Mask),
                };
            }
            case Select s:
            {
                var condition = Vector(s.Condition);
                bool mask = s.Type == ValueKind.Boolean;
                var (a, b) = (Vector(s.WhenTrue), Vector(s.WhenFalse));
                var (ca, cb) = mask ? (AsMask(a), AsMask(b)) : (a.Code, b.Code);
                var kind = mask ? VectorKind.Mask : VectorKind.Floats;
                return condition.Kind == VectorKind.Uniform
                    ? new($"({condition.Code} ? {ca} : {cb})", kind)
                    : new($"{VectorType}.ConditionalSelect({condition.Code}, {ca}, {cb})", kind);
            }
            case Convert c:
                return Vector(c.Operand);
            case Call c:
                return new(VectorFunction(c.Function, c.Arguments.Select(a => Vector(a).Code).ToArray()), VectorKind.Floats);
            default:
                throw new System.ArgumentOutOfRangeException(nameof(e), e.GetType().Name);
        }
    }

    /// <summary>A condition as a lane mask (a bool for all lanes becomes all or no lanes).</summary>
    static string AsMask(VectorCode code) =>
        code.Kind == VectorKind.Uniform ? $"({code.Code} ? {MaskVector}.AllBitsSet : {MaskVector}.Zero)" : code.Code;

    static string VectorFunction(MathFunction f, string[] a) => f switch
    {
        MathFunction.Sqrt => $"{VectorType}.SquareRoot({a[0]})",
        MathFunction.Rsqrt => $"({FloatVector}.One / {VectorType}.SquareRoot({a[0]}))",
        MathFunction.Abs => $"{VectorType}.Abs({a[0]})",
        MathFunction.Floor => $"{VectorType}.Floor({a[0]})",
        MathFunction.Ceiling => $"{VectorType}.Ceiling({a[0]})",
        MathFunction.Square => $"({a[0]} * {a[0]})",
        MathFunction.FusedMultiplyAdd => $"{VectorMath}.FusedMultiplyAdd({a[0]}, {a[1]}, {a[2]})",
        _ => $"{VectorMath}.{f}({string.Join(", ", a)})",
    };

    VectorCode VectorRead(int slot, ValueKind type) =>
        type == ValueKind.Boolean ? new($"(s[{slot}] != 0f)", VectorKind.Uniform) : new($"sv{slot}", VectorKind.Floats);

    /// <summary>
    /// <c>UpdateCpu</c>: the element code over one contiguous float32 chunk — whole <c>Vector&lt;float&gt;</c>s first,
    /// then the scalar body for the elements left over. The runtime runs chunks of all tensors in parallel.
    /// </summary>
    void WriteCpuUpdate(CodeWriter w)
    {
        var states = _model.States;
        var locals = _model.Update.Locals.Where(l => _registers.Contains(LocalName(l.Name))).ToList();
        w.Doc("<summary>The update rule over one contiguous float32 chunk on the CPU: Vector&lt;float&gt; lanes, then a scalar tail.</summary>");
        w.Open($"protected override void UpdateCpu({RuntimeApi.CpuChunk} chunk, global::System.ReadOnlySpan<float> s)");
        w.Line("var pSpan = chunk.Parameter;");
        w.Line("var gSpan = chunk.Gradient;");
        w.Line($"var pVectors = global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, {FloatVector}>(pSpan);");
        w.Line($"var gVectors = global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, {FloatVector}>(gSpan);");
        for (int i = 0; i < states.Count; i++)
        {
            w.Line($"var stSpan{i} = chunk.State({i});");
            w.Line($"var stVectors{i} = global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, {FloatVector}>(stSpan{i});");
            w.Line($"bool has{i} = !stSpan{i}.IsEmpty; // false for state whose OnlyIf is off");
        }
        for (int k = 0; k < _slots; k++) w.Line($"var sv{k} = new {FloatVector}(s[{k}]);");

        w.Open("for (int i = 0; i < pVectors.Length; i++)");
        w.Line("var p = pVectors[i];");
        w.Line("var g = gVectors[i];");
        for (int i = 0; i < states.Count; i++) w.Line($"var {StateName(states[i].Name)} = has{i} ? stVectors{i}[i] : default;");
        foreach (var local in locals)
            w.Line($"{(local.Type == ValueKind.Boolean ? MaskVector : FloatVector)} {LocalName(local.Name)} = default;");
        w.Append(_device.Vector);
        w.Line("pVectors[i] = p;");
        for (int i = 0; i < states.Count; i++) w.Line($"if (has{i}) stVectors{i}[i] = {StateName(states[i].Name)};");
        w.Close();

        w.Open($"for (int i = pVectors.Length * {FloatVector}.Count; i < pSpan.Length; i++)");
        w.Line("var p = pSpan[i];");
        w.Line("var g = gSpan[i];");
        for (int i = 0; i < states.Count; i++) w.Line($"var {StateName(states[i].Name)} = has{i} ? stSpan{i}[i] : 0f;");
        foreach (var local in locals)
            w.Line($"{(local.Type == ValueKind.Boolean ? "bool" : "float")} {LocalName(local.Name)} = {(local.Type == ValueKind.Boolean ? "false" : "0f")};");
        w.Append(_device.Scalar);
        w.Line("pSpan[i] = p;");
        for (int i = 0; i < states.Count; i++) w.Line($"if (has{i}) stSpan{i}[i] = {StateName(states[i].Name)};");
        w.Close();
        w.Close();
    }
}
