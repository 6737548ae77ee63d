using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// For a CPU target of a phase run row by row (<see cref="PhasePlan.RowWise"/>): the values that are the same along a
/// row — host values, results over the tensor or per row, state kept per row, and what is computed from those alone —
/// computed once per row in a prologue (<see cref="Prologue"/>, scalar C#) instead of once per element. An assignment
/// outside any branch whose value is such becomes its prologue variable's value (the register keeps it from there on,
/// so code before it still reads the old one); a larger expression of such values in any statement is read from the
/// prologue as well. Adafactor's <c>rsqrt(row / Reduce.Mean(row))</c> is one square root and two divisions a row.
/// </summary>
sealed class RowValues
{
    readonly IElementValues _values;
    readonly PhaseView _phase;
    readonly Dictionary<string, string> _scalarOf = new();
    readonly Dictionary<string, string> _hoisted = new();
    readonly RowScalar _scalar;

    /// <param name="rowStates">Each state kept per row: its register and the prologue's variable of its value at the row's start.</param>
    public RowValues(IElementValues values, PhaseView phase, IEnumerable<(string Register, string Start)> rowStates)
    {
        _values = values;
        _phase = phase;
        foreach (var (register, start) in rowStates) _scalarOf[register] = start;
        _scalar = new RowScalar(this, values, phase);
    }

    /// <summary>The row's code, run before its elements: scalar variables, and for a vector target their lanes.</summary>
    public CodeWriter Prologue { get; } = new();

    /// <summary>Whether <paramref name="e"/> is the same along a row, and not a plain read (worth computing once a row).</summary>
    public bool Worth(Expr e) => e is not (Constant or Reference) && e.Varying && Invariant(e);

    /// <summary>
    /// The prologue's variable an assignment of <paramref name="value"/> to <paramref name="register"/> takes, where it
    /// stands outside any branch and the value is the same along a row (a number, not a condition); else null (the
    /// target writes the assignment per element, then calls <see cref="Varies"/>).
    /// </summary>
    public string? Hoist(string register, Expr value, ValueKind type, string? mask)
    {
        if (mask is not null || _values.InBranch || type == ValueKind.Boolean || !value.Varying || !Invariant(value)) return null;
        var scalar = Scalar(value);
        _scalarOf[register] = scalar;
        return scalar;
    }

    /// <summary>The prologue's scalar variable holding <paramref name="e"/> (computed once a row, reused while valid).</summary>
    public string Scalar(Expr e)
    {
        var code = _scalar.Expression(e);
        if (_hoisted.TryGetValue(code, out var name)) return name;
        name = _values.NewVariable("rowValue");
        Prologue.Line($"float {name} = {code};");
        _hoisted[code] = name;
        return name;
    }

    /// <summary>A register now holds a value that may differ per element (prologue values that read its old value stay valid: they are variables of their own).</summary>
    public void Varies(string register) => _scalarOf.Remove(register);

    bool Invariant(Expr e)
    {
        if (e is Constant || !e.Varying) return true;
        switch (e)
        {
            case Reference r:
                return _values.Read(r) is ({ } register, _) && _scalarOf.ContainsKey(register);
            case Call c when c.Function.IsWholeTensor():
                var reduction = _phase.Of(c);
                return !reduction.IsMatrix && reduction.Scope is ReductionScope.Tensor or ReductionScope.Row
                       || (!reduction.IsMatrix && !_phase.Knows(reduction)); // not known yet: 0
            case Call c:
                return c.Arguments.All(Invariant);
            case Unary u:
                return u.Type != ValueKind.Boolean && Invariant(u.Operand);
            case Binary b:
                return b.Type != ValueKind.Boolean && Invariant(b.Left) && Invariant(b.Right);
            case Select s:
                return s.Type != ValueKind.Boolean && Invariant(s.Condition) && Invariant(s.WhenTrue) && Invariant(s.WhenFalse);
            case Convert c:
                return Invariant(c.Operand);
            default:
                return false;
        }
    }

    /// <summary>Scalar C# of a value the same along a row: registers read as their prologue variables.</summary>
    sealed class RowScalar(RowValues owner, IElementValues values, PhaseView phase) : ScalarTarget(new Registers(owner, values), phase)
    {
        protected override string Spelling(Intrinsic intrinsic) => intrinsic.CpuScalar!;

        protected override string Literal(double value) => CpuScalarTarget.FloatLiteral(value);

        protected override string MatrixStore(PlannedReduction m) => throw new System.InvalidOperationException("a matrix value is not the same along a row");
    }

    /// <summary>The rule's values, with each register that holds a value the same along the row read as its prologue variable.</summary>
    sealed class Registers(RowValues owner, IElementValues values) : IElementValues
    {
        public Slot SlotOf(Expr hostExpression) => values.SlotOf(hostExpression);

        public (string? Register, Slot? Slot) Read(Reference reference) => values.Read(reference) switch
        {
            ({ } register, _) when owner._scalarOf.TryGetValue(register, out var scalar) => (scalar, null),
            var other => other,
        };

        public string NewVariable(string preferred) => values.NewVariable(preferred);

        public bool InBranch => values.InBranch;
    }
}
