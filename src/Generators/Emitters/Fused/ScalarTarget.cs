using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>
/// A target that computes one element at a time in a C-like language (CUDA C, C# over floats): the same expressions,
/// assignments and branches, with the spellings (literals, slots, functions) of the language.
/// </summary>
abstract class ScalarTarget(IElementValues values, PhaseView phase) : ElementTarget(values, phase)
{
    /// <summary>A float literal.</summary>
    protected abstract string Literal(double value);

    /// <summary>The function's spelling from the intrinsics table.</summary>
    protected abstract string Spelling(Intrinsic intrinsic);

    /// <summary>The remainder of a division, as the language writes it.</summary>
    protected virtual string Remainder(string left, string right) => $"({left} % {right})";

    public override string Expression(Expr e)
    {
        if (e is Constant constant) return constant.Type == ValueKind.Boolean ? (constant.Value != 0 ? "true" : "false") : Literal(constant.Value);
        if (!e.Varying) return Read(Values.SlotOf(e));
        return e switch
        {
            Reference r => Reference(r, Read),
            Unary { Op: UnaryOp.Negate } u => $"(-{Expression(u.Operand)})",
            Unary u => $"(!{Expression(u.Operand)})",
            Binary { Op: BinaryOp.Remainder } b => Remainder(Expression(b.Left), Expression(b.Right)),
            Binary b => $"({Expression(b.Left)} {HostExpressions.Operator(b.Op)} {Expression(b.Right)})",
            Select s => $"({Expression(s.Condition)} ? {Expression(s.WhenTrue)} : {Expression(s.WhenFalse)})",
            Convert c => Expression(c.Operand),
            Call c when c.Function.IsWholeTensor() => Phase.Of(c) is { IsMatrix: true } m ? MatrixValue(m) : PhaseView.Result(Phase.Of(c)),
            Call c => Template.Apply(Spelling(c.Function.Intrinsic()), c.Arguments.Select(Expression).ToArray()),
            _ => throw new System.ArgumentOutOfRangeException(nameof(e), e.GetType().Name),
        };
    }

    /// <summary>The variable that accumulates a reduction over the elements this code computes.</summary>
    protected virtual string Accumulator(PlannedReduction r) => "a_" + r.Index;

    /// <summary>Where the element's argument of a matrix call is stored, in the phase that stores it.</summary>
    protected abstract string MatrixStore(PlannedReduction m);

    /// <summary>The element's value of a matrix call's result, in a later phase.</summary>
    protected virtual string MatrixValue(PlannedReduction m) => PhaseView.Result(m);

    public override void Accumulate(CodeWriter w, Expr e)
    {
        foreach (var r in Phase.AccumulatedIn(e))
        {
            var x = Expression(r.Argument);
            var a = Accumulator(r);
            var intrinsic = r.Call.Function.Intrinsic();
            var comment = " // " + intrinsic.Display;
            if (r.IsMatrix)
            {
                w.Line($"{MatrixStore(r)} = {x};{comment}, the runtime's after this phase");
                continue;
            }
            string Call(MathFunction f, params string[] arguments) => Template.Apply(Spelling(f.Intrinsic()), arguments);
            switch (r.Op)
            {
                case "Norm" or "Rms":
                    var t = Values.NewVariable("x");
                    w.Line($"float {t} = {x};");
                    w.Line($"{a} += {t} * {t};{comment}");
                    break;
                case "Max": w.Line($"{a} = {Call(MathFunction.Max, a, x)};{comment}"); break;
                case "Min": w.Line($"{a} = {Call(MathFunction.Min, a, x)};{comment}"); break;
                case "MaxAbs": w.Line($"{a} = {Call(MathFunction.Max, a, Call(MathFunction.Abs, x))};{comment}"); break;
                default: w.Line($"{a} += {x};{comment}"); break;
            }
        }
    }

    public override void Assign(CodeWriter w, string? mask, string name, Expr value, ValueKind type, string comment) =>
        w.Line($"{name} = {Expression(value)};{comment}");

    public override void AssignSlot(CodeWriter w, string? mask, string name, Slot slot) => w.Line($"{name} = {Read(slot)};");

    public override void HostIf(CodeWriter w, Slot slot, string source, CodeWriter then, CodeWriter otherwise) =>
        Branches(w, $"if ({Condition(slot)}) // {source}", then, otherwise);

    public override PerElementFork ForkPerElement(CodeWriter w, Expr condition, string source, string? mask) =>
        new($"if ({Expression(condition)}) // {source}", mask, mask);

    public override void EndPerElement(CodeWriter w, PerElementFork fork, CodeWriter then, CodeWriter otherwise) =>
        Branches(w, fork.Header, then, otherwise);

    string Read(Slot slot) => slot.Type == ValueKind.Boolean ? $"({Condition(slot)})" : slot.Variable;

    /// <summary>A bool slot as a condition.</summary>
    protected virtual string Condition(Slot slot) => slot.Variable;
}
