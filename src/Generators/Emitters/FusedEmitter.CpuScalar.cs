using System.Globalization;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>The scalar C# target of the fused CPU backend: the element body for a chunk's tail, one float at a time.</summary>
sealed partial class FusedEmitter
{
    const string MathF = "global::System.MathF";
    const string CpuMath = RuntimeApi.CpuMath;

    /// <summary>C# over floats for an expression of the rule.</summary>
    string Scalar(Expr e)
    {
        if (e is Constant constant) return constant.Type == ValueKind.Boolean ? (constant.Value != 0 ? "true" : "false") : ScalarLiteral(constant.Value);
        if (!e.Varying) return ScalarRead(Slot(Host(e), e.Type), e.Type);
        return e switch
        {
            Reference r => _env[(r.Kind, r.Name)] switch
            {
                DeviceValue d => d.Name,
                HostValue h => ScalarRead(Slot(h.Code, h.Type), h.Type),
                _ => throw new System.InvalidOperationException($"read of unassigned '{r.Name}'"),
            },
            Unary { Op: UnaryOp.Negate } u => $"(-{Scalar(u.Operand)})",
            Unary u => $"(!{Scalar(u.Operand)})",
            Binary b => $"({Scalar(b.Left)} {HostExpressions.Operator(b.Op)} {Scalar(b.Right)})",
            Select s => $"({Scalar(s.Condition)} ? {Scalar(s.WhenTrue)} : {Scalar(s.WhenFalse)})",
            Convert c => Scalar(c.Operand),
            Call c => ScalarFunction(c.Function, c.Arguments.Select(Scalar).ToArray()),
            _ => throw new System.ArgumentOutOfRangeException(nameof(e), e.GetType().Name),
        };
    }

    static string ScalarFunction(MathFunction f, string[] a) => f switch
    {
        MathFunction.Sqrt => $"{MathF}.Sqrt({a[0]})",
        MathFunction.Rsqrt => $"(1f / {MathF}.Sqrt({a[0]}))",
        MathFunction.Abs => $"{MathF}.Abs({a[0]})",
        MathFunction.Sign => $"{CpuMath}.Sign({a[0]})",
        MathFunction.Min => $"{MathF}.Min({a[0]}, {a[1]})",
        MathFunction.Max => $"{MathF}.Max({a[0]}, {a[1]})",
        MathFunction.Pow => $"{MathF}.Pow({a[0]}, {a[1]})",
        MathFunction.Exp => $"{MathF}.Exp({a[0]})",
        MathFunction.Log => $"{MathF}.Log({a[0]})",
        MathFunction.Log2 => $"{MathF}.Log2({a[0]})",
        MathFunction.Log10 => $"{MathF}.Log10({a[0]})",
        MathFunction.Tanh => $"{MathF}.Tanh({a[0]})",
        MathFunction.Sin => $"{MathF}.Sin({a[0]})",
        MathFunction.Cos => $"{MathF}.Cos({a[0]})",
        MathFunction.Tan => $"{MathF}.Tan({a[0]})",
        MathFunction.Atan => $"{MathF}.Atan({a[0]})",
        MathFunction.Floor => $"{MathF}.Floor({a[0]})",
        MathFunction.Ceiling => $"{MathF}.Ceiling({a[0]})",
        MathFunction.Round => $"{MathF}.Round({a[0]})",
        MathFunction.Truncate => $"{MathF}.Truncate({a[0]})",
        MathFunction.Square => $"({a[0]} * {a[0]})",
        MathFunction.Sigmoid => $"{CpuMath}.Sigmoid({a[0]})",
        MathFunction.Clamp => $"{CpuMath}.Clamp({a[0]}, {a[1]}, {a[2]})",
        MathFunction.Lerp => $"{CpuMath}.Lerp({a[0]}, {a[1]}, {a[2]})",
        MathFunction.FusedMultiplyAdd => $"{MathF}.FusedMultiplyAdd({a[0]}, {a[1]}, {a[2]})",
        _ => throw new System.ArgumentOutOfRangeException(nameof(f), f.ToString()),
    };

    static string ScalarRead(int slot, ValueKind type) => type == ValueKind.Boolean ? $"(s[{slot}] != 0f)" : $"s[{slot}]";

    static string ScalarLiteral(double value)
    {
        if (double.IsNaN(value)) return "float.NaN";
        if (double.IsInfinity(value)) return value > 0 ? "float.PositiveInfinity" : "float.NegativeInfinity";
        var text = ((float)value).ToString("R", CultureInfo.InvariantCulture);
        return (text.Contains(".") || text.Contains("E") ? text : text + ".0") + "f";
    }
}
