using System;
using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Writes a host-only expression as C#: reals in double (the declaration's float math, computed once per step in
/// higher precision), integers and bools as declared; functions as the intrinsics table spells them for the host.
/// Names are resolved by the caller; so is the matrix view's shape (<c>Matrix.Rows()</c>, <c>Columns()</c>), which
/// only a backend with the parameter at hand can read.
/// </summary>
static class HostExpressions
{
    /// <summary>
    /// C# for <paramref name="e"/>; <paramref name="parameter"/> is the tensor the matrix view's shape is read from
    /// (without one, the shape is written as the rule wrote it, for docs); <paramref name="call"/>, where given, writes
    /// the calls it knows (a reduction whose result the host has) and returns null for the rest.
    /// </summary>
    public static string Write(Expr e, Func<Reference, string> name, Func<Hoisted, string> hoisted, string? parameter = null, Func<Call, string?>? call = null)
    {
        string Of(Expr x) => Write(x, name, hoisted, parameter, call);
        if (e is Call known && call?.Invoke(known) is { } written) return written;
        return e switch
        {
            Constant c => Wrap(Literals.Of(c.Value, c.Type), c.Value < 0),
            Reference r => name(r),
            Hoisted h => hoisted(h),
            Unary { Op: UnaryOp.Negate } u => $"(-{Of(u.Operand)})",
            Unary u => $"(!{Of(u.Operand)})",
            Binary b => $"({Of(b.Left)} {Operator(b.Op)} {Of(b.Right)})",
            Select s => $"({Of(s.Condition)} ? {Of(s.WhenTrue)} : {Of(s.WhenFalse)})",
            Model.Convert { Type: ValueKind.Real } c => $"((double){Of(c.Operand)})",
            Model.Convert c => $"((long){Of(c.Operand)})",
            Call c when c.Function.Kind() == IntrinsicKind.Shape && parameter is null => c.Function.Display() + "()",
            Call c => Function(c, c.Arguments.Select(Of).ToArray(), parameter),
            _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name),
        };
    }

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

    static string Function(Call c, string[] arguments, string? parameter)
    {
        var intrinsic = c.Function.Intrinsic();
        var template = (c.Type == ValueKind.Integer ? intrinsic.HostInteger : null) ?? intrinsic.Host
            ?? throw new ArgumentOutOfRangeException(nameof(c), $"{intrinsic.Display} has no host form");
        return Template.Apply(template, arguments, parameter);
    }

    static string Wrap(string literal, bool negative) => negative ? "(" + literal + ")" : literal;
}
