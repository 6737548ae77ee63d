using System.Globalization;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>The scalar C# target of the fused CPU backend: the element body for a chunk's tail, one float at a time.</summary>
sealed class CpuScalarTarget(IElementValues values, PhaseView phase) : ScalarTarget(values, phase)
{
    /// <summary>Where the phase runs row by row: what is the same along a row, computed once a row.</summary>
    public RowValues? Rows { get; init; }

    public override string Expression(Expr e) =>
        Rows is { } rows && e.Type != ValueKind.Boolean && rows.Worth(e) ? rows.Scalar(e) : base.Expression(e);

    public override void Assign(CodeWriter w, string? mask, string name, Expr value, ValueKind type, string comment)
    {
        if (Rows?.Hoist(name, value, type, mask) is { } scalar)
        {
            w.Line($"{name} = {scalar};{comment}");
            return;
        }
        base.Assign(w, mask, name, value, type, comment);
        Rows?.Varies(name);
    }

    public override void AssignSlot(CodeWriter w, string? mask, string name, Slot slot)
    {
        base.AssignSlot(w, mask, name, slot);
        Rows?.Varies(name);
    }

    protected override string Spelling(Intrinsic intrinsic) => intrinsic.CpuScalar!;

    protected override string Literal(double value) => FloatLiteral(value);

    /// <summary>A matrix call's argument is stored straight into the chunk's span of the runtime's matrix.</summary>
    protected override string MatrixStore(PlannedReduction m) => $"{CpuVectorTarget.MatrixSpan(m)}[i]";

    /// <summary>And its result read straight from it.</summary>
    protected override string MatrixValue(PlannedReduction m) => $"{CpuVectorTarget.MatrixSpan(m)}[i]";

    /// <summary>A reduction per column accumulates into the chunk's partial of the element's column.</summary>
    protected override string Accumulator(PlannedReduction r) => r.Scope == ReductionScope.Column ? $"{ColumnPartials(r)}[i]" : base.Accumulator(r);

    /// <summary>The chunk's partials of a reduction per column, one per column.</summary>
    public static string ColumnPartials(PlannedReduction r) => "cp_" + r.Index;

    /// <summary>A float literal in C#.</summary>
    public static string FloatLiteral(double value)
    {
        if (double.IsNaN(value)) return "float.NaN";
        if (double.IsInfinity(value)) return value > 0 ? "float.PositiveInfinity" : "float.NegativeInfinity";
        var text = ((float)value).ToString("R", CultureInfo.InvariantCulture);
        return (text.Contains(".") || text.Contains("E") ? text : text + ".0") + "f";
    }
}
