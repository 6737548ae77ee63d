using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// The <c>Vector&lt;float&gt;</c> C# target of the fused CPU backend. A per-element condition is a lane mask
/// (<c>Vector&lt;int&gt;</c>): both arms run, each assignment applied only to the lanes its arm selects.
/// </summary>
sealed class CpuVectorTarget(IElementValues values, PhaseView phase) : ElementTarget(values, phase)
{
    public const string VectorType = "global::System.Numerics.Vector";
    public const string FloatVector = "global::System.Numerics.Vector<float>";
    public const string MaskVector = "global::System.Numerics.Vector<int>";

    /// <summary>Vector code and what it holds: lanes of floats, a lane mask, or one bool for all lanes.</summary>
    readonly record struct VectorCode(string Code, VectorKind Kind);

    enum VectorKind { Floats, Mask, Uniform }

    public override string Expression(Expr e) => Vector(e).Code;

    /// <summary>Where the phase runs row by row: what is the same along a row, computed once a row.</summary>
    public RowValues? Rows { get; init; }

    VectorCode Vector(Expr e)
    {
        if (Rows is { } rows && e.Type != ValueKind.Boolean && rows.Worth(e)) return new($"new {FloatVector}({rows.Scalar(e)})", VectorKind.Floats);
        if (e is Constant constant)
            return constant.Type == ValueKind.Boolean
                ? new(constant.Value != 0 ? "true" : "false", VectorKind.Uniform)
                : new($"new {FloatVector}({CpuScalarTarget.FloatLiteral(constant.Value)})", VectorKind.Floats);
        if (!e.Varying) return Read(Values.SlotOf(e));
        switch (e)
        {
            case Reference r:
                return Values.Read(r) switch
                {
                    ({ } register, _) => new(register, r.Type == ValueKind.Boolean ? VectorKind.Mask : VectorKind.Floats),
                    (_, { } slot) => Read(slot),
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
                    BinaryOp.Remainder => new($"{RuntimeApi.VectorMath}.Remainder({l}, {r})", VectorKind.Floats),
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
            case Call c when c.Function.IsWholeTensor():
                return new(Phase.Of(c) is { IsMatrix: true } m ? $"{MatrixVectors(m)}[i]" : ResultOf(Phase.Of(c)), VectorKind.Floats);
            case Call c:
                return new(Template.Apply(c.Function.Intrinsic().CpuVector!, c.Arguments.Select(a => Vector(a).Code).ToArray()), VectorKind.Floats);
            default:
                throw new System.ArgumentOutOfRangeException(nameof(e), e.GetType().Name);
        }
    }

    /// <summary>A condition as a lane mask (a bool for all lanes becomes all or no lanes).</summary>
    static string AsMask(VectorCode code) =>
        code.Kind == VectorKind.Uniform ? $"({code.Code} ? {MaskVector}.AllBitsSet : {MaskVector}.Zero)" : code.Code;

    static VectorCode Read(Slot slot) =>
        slot.Type == ValueKind.Boolean ? new(slot.Variable, VectorKind.Uniform) : new(VectorOf(slot), VectorKind.Floats);

    /// <summary>The variable holding a float slot's value in every lane.</summary>
    public static string VectorOf(Slot slot) => "v_" + slot.Name;

    /// <summary>The variable holding a reduction's result in every lane.</summary>
    public static string ResultOf(PlannedReduction r) => "rv_" + r.Index;

    /// <summary>The lanes accumulating a reduction (combined with the tail's accumulator after the loops).</summary>
    public static string AccumulatorOf(PlannedReduction r) => "va_" + r.Index;

    /// <summary>The chunk's partials of a reduction per column, as vectors (a row's vector i covers the same columns).</summary>
    public static string ColumnPartialVectors(PlannedReduction r) => "cpv_" + r.Index;

    /// <summary>Where the lanes accumulate: their accumulator, or for a reduction per column the partials of their columns.</summary>
    static string AccumulatorIn(PlannedReduction r) => r.Scope == ReductionScope.Column ? $"{ColumnPartialVectors(r)}[i]" : AccumulatorOf(r);

    /// <summary>The chunk's span of a matrix call's stored argument, and later of its result.</summary>
    public static string MatrixSpan(PlannedReduction m) => "mSpan" + m.Index;

    /// <summary>The same span as whole vectors.</summary>
    public static string MatrixVectors(PlannedReduction m) => "mVectors" + m.Index;

    public override void Accumulate(CodeWriter w, Expr e)
    {
        foreach (var r in Phase.AccumulatedIn(e))
        {
            var x = Vector(r.Argument).Code;
            var a = AccumulatorIn(r);
            var intrinsic = r.Call.Function.Intrinsic();
            var comment = " // " + intrinsic.Display;
            if (r.IsMatrix)
            {
                w.Line($"{MatrixVectors(r)}[i] = {x};{comment}, the runtime's after this phase");
                continue;
            }
            switch (r.Op)
            {
                case "Norm" or "Rms":
                    var t = Values.NewVariable("x");
                    w.Line($"var {t} = {x};");
                    w.Line($"{a} += {t} * {t};{comment}");
                    break;
                case "Max": w.Line($"{a} = {RuntimeApi.VectorMath}.Max({a}, {x});{comment}"); break;
                case "Min": w.Line($"{a} = {RuntimeApi.VectorMath}.Min({a}, {x});{comment}"); break;
                case "MaxAbs": w.Line($"{a} = {RuntimeApi.VectorMath}.Max({a}, {VectorType}.Abs({x}));{comment}"); break;
                default: w.Line($"{a} += {x};{comment}"); break;
            }
        }
    }

    public override void Assign(CodeWriter w, string? mask, string name, Expr value, ValueKind type, string comment)
    {
        if (Rows?.Hoist(name, value, type, mask) is { } scalar)
        {
            w.Line($"{name} = new {FloatVector}({scalar});{comment}");
            return;
        }
        Set(w, mask, name, Vector(value), type, comment);
        Rows?.Varies(name);
    }

    public override void AssignSlot(CodeWriter w, string? mask, string name, Slot slot)
    {
        Set(w, mask, name, Read(slot), slot.Type, "");
        Rows?.Varies(name);
    }

    void Set(CodeWriter w, string? mask, string name, VectorCode value, ValueKind type, string comment)
    {
        var code = type == ValueKind.Boolean ? AsMask(value) : value.Code;
        w.Line(mask is null ? $"{name} = {code};{comment}" : $"{name} = {VectorType}.ConditionalSelect({mask}, {code}, {name});{comment}");
    }

    public override void HostIf(CodeWriter w, Slot slot, string source, CodeWriter then, CodeWriter otherwise) =>
        Branches(w, $"if ({slot.Variable}) // {source}", then, otherwise);

    /// <summary>Both arms run over the lanes their condition selects, inside the lanes <paramref name="mask"/> selects.</summary>
    public override PerElementFork ForkPerElement(CodeWriter w, Expr condition, string source, string? mask)
    {
        var lanes = Values.NewVariable("mask");
        w.Line($"var {lanes} = {AsMask(Vector(condition))}; // {source}");
        if (mask is null) return new PerElementFork("", lanes, $"(~{lanes})");
        // Inside another condition each arm's lanes get a variable, so that nested masks do not grow with the depth.
        var (then, otherwise) = (Values.NewVariable("lanes"), Values.NewVariable("lanes"));
        w.Line($"var {then} = {mask} & {lanes};");
        w.Line($"var {otherwise} = {VectorType}.AndNot({mask}, {lanes});");
        return new PerElementFork("", then, otherwise);
    }

    public override void EndPerElement(CodeWriter w, PerElementFork fork, CodeWriter then, CodeWriter otherwise)
    {
        w.Append(then);
        w.Append(otherwise);
    }
}
