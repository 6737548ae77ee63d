using OptDsl.Generators.Intrinsics;

namespace OptDsl.Generators.Model;

/// <summary>The type of a value in an update rule: every real is computed in fp32 per element and fp64 on the host.</summary>
public enum ValueKind { Real, Integer, Boolean }

/// <summary>What a name in the update rule refers to.</summary>
public enum VarKind
{
    /// <summary>The parameter element (<c>ref float p</c>).</summary>
    Param,
    /// <summary>Its gradient (<c>float g</c>); assignable, as a local.</summary>
    Grad,
    /// <summary>The step number (<c>int t</c>), from 1.</summary>
    Step,
    Hyper,
    State,
    ScalarState,
    Local,
}

public enum UnaryOp { Negate, Not }

public enum BinaryOp { Add, Subtract, Multiply, Divide, Remainder, Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual, And, Or }

/// <summary>
/// The functions an update rule may call (from <c>MathF</c>, <c>Math</c>, <c>OptMath</c>, <c>Reduce</c> and
/// <c>Matrix</c>); what each means on every target is its row in <see cref="IntrinsicTable"/>.
/// </summary>
public enum MathFunction
{
    Sqrt, Rsqrt, Abs, Sign, Min, Max, Pow, Exp, Log, Log2, Log10, Tanh, Sin, Cos, Tan, Atan, Atan2,
    Floor, Ceiling, Round, Truncate, Square, Sigmoid, Clamp, Lerp, FusedMultiplyAdd,
    ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceMaxAbs, ReduceNorm, ReduceVar, ReduceStd, ReduceRms,
    MatrixNewtonSchulz, MatrixPolarExpress, MatrixRows, MatrixColumns,
    MatrixRowSum, MatrixRowMean, MatrixRowNorm, MatrixColumnSum, MatrixColumnMean, MatrixColumnNorm,
    GlobalSum, GlobalNorm, GlobalMaxAbs, GroupSum, GroupNorm, GroupMaxAbs,
}

public static class MathFunctionExtensions
{
    /// <summary>The row of <paramref name="f"/> in the intrinsics table.</summary>
    public static Intrinsic Intrinsic(this MathFunction f) => IntrinsicTable.Of(f);

    /// <summary>What <paramref name="f"/> works on: one element, a tensor, its rows or columns, every tensor...</summary>
    public static IntrinsicKind Kind(this MathFunction f) => IntrinsicTable.Of(f).Kind;

    /// <summary>Whether <paramref name="f"/> needs the whole tensor (a pass of its own), not one element.</summary>
    public static bool IsWholeTensor(this MathFunction f) => IntrinsicTable.Of(f).IsWholeTensor;

    /// <summary>How the rule writes <paramref name="f"/>, for messages: <c>Reduce.Norm</c>, <c>Matrix.NewtonSchulz</c>.</summary>
    public static string Display(this MathFunction f) => IntrinsicTable.Of(f).Display;
}

/// <summary>
/// An expression of the update rule. <see cref="Varying"/> says whether its value differs per element (it reads the
/// parameter, the gradient, state, or a local that does); other expressions are computed once on the host.
/// </summary>
public abstract record Expr(ValueKind Type, bool Varying);

public sealed record Constant(double Value, ValueKind Type) : Expr(Type, false);

public sealed record Reference(VarKind Kind, string Name, ValueKind Type, bool IsVarying) : Expr(Type, IsVarying);

public sealed record Unary(UnaryOp Op, Expr Operand, ValueKind Type) : Expr(Type, Operand.Varying);

public sealed record Binary(BinaryOp Op, Expr Left, Expr Right, ValueKind Type) : Expr(Type, Left.Varying || Right.Varying);

/// <summary>
/// A function call; whole-tensor functions give device values, which count as varying (never hoisted or shared) —
/// except the matrix view's shape, which the host knows.
/// </summary>
public sealed record Call(MathFunction Function, EquatableArray<Expr> Arguments, ValueKind Type)
    : Expr(Type, (Function.IsWholeTensor() && Function.Kind() != IntrinsicKind.Shape) || System.Linq.Enumerable.Any(Arguments, a => a.Varying));

public sealed record Select(Expr Condition, Expr WhenTrue, Expr WhenFalse, ValueKind Type)
    : Expr(Type, Condition.Varying || WhenTrue.Varying || WhenFalse.Varying);

/// <summary>A numeric conversion between integer and real (truncating toward zero for real to integer).</summary>
public sealed record Convert(Expr Operand, ValueKind Type) : Expr(Type, Operand.Varying);

public static class ExprExtensions
{
    /// <summary>Every call in <paramref name="e"/>, outermost first.</summary>
    public static System.Collections.Generic.IEnumerable<Call> Calls(this Expr e)
    {
        switch (e)
        {
            case Call c:
                yield return c;
                foreach (var a in c.Arguments) foreach (var inner in a.Calls()) yield return inner;
                break;
            case Unary u: foreach (var inner in u.Operand.Calls()) yield return inner; break;
            case Binary b: foreach (var inner in System.Linq.Enumerable.Concat(b.Left.Calls(), b.Right.Calls())) yield return inner; break;
            case Select s:
                foreach (var inner in System.Linq.Enumerable.Concat(System.Linq.Enumerable.Concat(s.Condition.Calls(), s.WhenTrue.Calls()), s.WhenFalse.Calls()))
                    yield return inner;
                break;
            case Convert c: foreach (var inner in c.Operand.Calls()) yield return inner; break;
        }
    }
}

/// <summary>A host-only sub-expression lifted out of per-element work: <see cref="HoistedScalar"/> number <see cref="Index"/>.</summary>
public sealed record Hoisted(int Index, ValueKind Type) : Expr(Type, false);
