using System;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Writes a host-only expression as C#: reals in double (the declaration's float math, computed once per step in
/// higher precision), integers and bools as declared. Names are resolved by the caller; so is the matrix view's
/// shape (<c>Matrix.Rows()</c>, <c>Columns()</c>), which only a backend with the parameter at hand can read.
/// </summary>
static class HostExpressions
{
    const string HostMath = RuntimeApi.HostMath;

    public static string Write(Expr e, Func<Reference, string> name, Func<Hoisted, string> hoisted, Func<MathFunction, string>? shape = null) => e switch
    {
        Constant c => Wrap(Literals.Of(c.Value, c.Type), c.Value < 0),
        Reference r => name(r),
        Hoisted h => hoisted(h),
        Unary { Op: UnaryOp.Negate } u => $"(-{Write(u.Operand, name, hoisted, shape)})",
        Unary u => $"(!{Write(u.Operand, name, hoisted, shape)})",
        Binary b => $"({Write(b.Left, name, hoisted, shape)} {Operator(b.Op)} {Write(b.Right, name, hoisted, shape)})",
        Select s => $"({Write(s.Condition, name, hoisted, shape)} ? {Write(s.WhenTrue, name, hoisted, shape)} : {Write(s.WhenFalse, name, hoisted, shape)})",
        Model.Convert { Type: ValueKind.Real } c => $"((double){Write(c.Operand, name, hoisted, shape)})",
        Model.Convert c => $"((long){Write(c.Operand, name, hoisted, shape)})",
        Call c when c.Function.IsShape() => shape?.Invoke(c.Function) ?? c.Function.Display() + "()",
        Call c => Function(c, c.Arguments.Select(a => Write(a, name, hoisted, shape)).ToArray()),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name),
    };

    public static string Operator(BinaryOp op) => op switch
    {
        BinaryOp.Add => "+",
        BinaryOp.Subtract => "-",
        BinaryOp.Multiply => "*",
        BinaryOp.Divide => "/",
        BinaryOp.Remainder => "%",
        BinaryOp.Less => "<",
        BinaryOp.LessEqual => "<=",
        BinaryOp.Greater => ">",
        BinaryOp.GreaterEqual => ">=",
        BinaryOp.Equal => "==",
        BinaryOp.NotEqual => "!=",
        BinaryOp.And => "&&",
        BinaryOp.Or => "||",
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    static string Function(Call c, string[] a)
    {
        bool integer = c.Type == ValueKind.Integer;
        return c.Function switch
        {
            MathFunction.Sqrt => $"global::System.Math.Sqrt({a[0]})",
            MathFunction.Rsqrt => $"{HostMath}.Rsqrt({a[0]})",
            MathFunction.Abs => $"global::System.Math.Abs({a[0]})",
            MathFunction.Sign => integer ? $"((long)global::System.Math.Sign({a[0]}))" : $"{HostMath}.Sign({a[0]})",
            MathFunction.Min => $"global::System.Math.Min({a[0]}, {a[1]})",
            MathFunction.Max => $"global::System.Math.Max({a[0]}, {a[1]})",
            MathFunction.Pow => $"global::System.Math.Pow({a[0]}, {a[1]})",
            MathFunction.Exp => $"global::System.Math.Exp({a[0]})",
            MathFunction.Log => $"global::System.Math.Log({a[0]})",
            MathFunction.Log2 => $"global::System.Math.Log2({a[0]})",
            MathFunction.Log10 => $"global::System.Math.Log10({a[0]})",
            MathFunction.Tanh => $"global::System.Math.Tanh({a[0]})",
            MathFunction.Sin => $"global::System.Math.Sin({a[0]})",
            MathFunction.Cos => $"global::System.Math.Cos({a[0]})",
            MathFunction.Tan => $"global::System.Math.Tan({a[0]})",
            MathFunction.Atan => $"global::System.Math.Atan({a[0]})",
            MathFunction.Floor => $"global::System.Math.Floor({a[0]})",
            MathFunction.Ceiling => $"global::System.Math.Ceiling({a[0]})",
            MathFunction.Round => $"global::System.Math.Round({a[0]})",
            MathFunction.Truncate => $"global::System.Math.Truncate({a[0]})",
            MathFunction.Square => $"{HostMath}.Square({a[0]})",
            MathFunction.Sigmoid => $"{HostMath}.Sigmoid({a[0]})",
            MathFunction.Clamp => integer ? $"global::System.Math.Clamp({a[0]}, {a[1]}, {a[2]})" : $"{HostMath}.Clamp({a[0]}, {a[1]}, {a[2]})",
            MathFunction.Lerp => $"{HostMath}.Lerp({a[0]}, {a[1]}, {a[2]})",
            MathFunction.FusedMultiplyAdd => $"global::System.Math.FusedMultiplyAdd({a[0]}, {a[1]}, {a[2]})",
            _ => throw new ArgumentOutOfRangeException(nameof(c), c.Function.ToString()),
        };
    }

    static string Wrap(string literal, bool negative) => negative ? "(" + literal + ")" : literal;
}
