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

/// <summary>The functions an update rule may call (from <c>MathF</c>, <c>Math</c> and <c>OptMath</c>).</summary>
public enum MathFunction
{
    Sqrt, Rsqrt, Abs, Sign, Min, Max, Pow, Exp, Log, Log2, Log10, Tanh, Sin, Cos, Tan, Atan,
    Floor, Ceiling, Round, Truncate, Square, Sigmoid, Clamp, Lerp, FusedMultiplyAdd,
    // Reductions over the whole tensor (OptDsl.Reduce): one value per tensor, computed on the device.
    ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceMaxAbs, ReduceNorm, ReduceVar, ReduceStd, ReduceRms,
    // Matrix functions (OptDsl.Matrix): the parameter viewed as a matrix; Rows and Columns describe it.
    MatrixNewtonSchulz, MatrixRows, MatrixColumns,
    // Per-row and per-column reductions of the matrix view, broadcast back over it.
    MatrixRowSum, MatrixRowMean, MatrixRowNorm, MatrixColumnSum, MatrixColumnMean, MatrixColumnNorm,
    // Reductions over every tensor the optimizer steps (OptDsl.Reduce.Global*), or its parameter group's (Group*).
    GlobalSum, GlobalNorm, GlobalMaxAbs, GroupSum, GroupNorm, GroupMaxAbs,
}

public static class MathFunctionExtensions
{
    /// <summary>Whether <paramref name="f"/> reduces over the whole tensor rather than computing one element.</summary>
    public static bool IsReduction(this MathFunction f) => f is >= MathFunction.ReduceSum and <= MathFunction.ReduceRms;

    /// <summary>Whether <paramref name="f"/> works on the parameter as a matrix.</summary>
    public static bool IsMatrix(this MathFunction f) => f is >= MathFunction.MatrixNewtonSchulz and <= MathFunction.MatrixColumnNorm;

    /// <summary>Whether <paramref name="f"/> reduces each row or each column of the matrix view.</summary>
    public static bool IsRowOrColumn(this MathFunction f) => f is >= MathFunction.MatrixRowSum and <= MathFunction.MatrixColumnNorm;

    /// <summary>Whether <paramref name="f"/> reduces over every tensor the optimizer steps.</summary>
    public static bool IsGlobal(this MathFunction f) => f is >= MathFunction.GlobalSum and <= MathFunction.GroupMaxAbs;

    /// <summary>Whether <paramref name="f"/> reduces over the tensors of one parameter group only.</summary>
    public static bool IsPerGroup(this MathFunction f) => f is >= MathFunction.GroupSum and <= MathFunction.GroupMaxAbs;

    /// <summary>Whether <paramref name="f"/> describes the parameter's matrix view (<c>Matrix.Rows</c>, <c>Columns</c>): a host value per tensor.</summary>
    public static bool IsShape(this MathFunction f) => f is MathFunction.MatrixRows or MathFunction.MatrixColumns;

    /// <summary>Whether <paramref name="f"/> needs the whole tensor (a pass of its own), not one element.</summary>
    public static bool IsWholeTensor(this MathFunction f) => f.IsReduction() || f.IsMatrix() || f.IsGlobal();

    /// <summary>Whether the update must pause at <paramref name="f"/> for the runtime to answer it across tensors.</summary>
    public static bool NeedsSteps(this MathFunction f) => f.IsGlobal() || f == MathFunction.MatrixNewtonSchulz;

    /// <summary>How the rule writes <paramref name="f"/>, for messages: <c>Reduce.Norm</c>, <c>Matrix.NewtonSchulz</c>.</summary>
    public static string Display(this MathFunction f)
    {
        var name = f.ToString();
        return f.IsReduction() ? "Reduce." + name.Substring(6) : f.IsMatrix() ? "Matrix." + name.Substring(6) : f.IsGlobal() ? "Reduce." + name : name;
    }
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
    : Expr(Type, (Function.IsWholeTensor() && !Function.IsShape()) || System.Linq.Enumerable.Any(Arguments, a => a.Varying));

public sealed record Select(Expr Condition, Expr WhenTrue, Expr WhenFalse, ValueKind Type)
    : Expr(Type, Condition.Varying || WhenTrue.Varying || WhenFalse.Varying);

/// <summary>A numeric conversion between integer and real (truncating toward zero for real to integer).</summary>
public sealed record Convert(Expr Operand, ValueKind Type) : Expr(Type, Operand.Varying);

/// <summary>A host-only sub-expression lifted out of per-element work: <see cref="HoistedScalar"/> number <see cref="Index"/>.</summary>
public sealed record Hoisted(int Index, ValueKind Type) : Expr(Type, false);
