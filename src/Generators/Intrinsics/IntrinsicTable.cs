using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Emitters;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Intrinsics;

/// <summary>
/// Every function an update rule may call, a row each with its spelling on every target: adding a function is a
/// member of <see cref="MathFunction"/> and a row here (plus a runtime helper where a target has no built-in).
/// <c>Math.</c> in a C# name stands for both <c>System.Math</c> and <c>System.MathF</c>.
/// </summary>
public static class IntrinsicTable
{
    const string Math = "global::System.Math";
    const string MathF = "global::System.MathF";
    const string Vector = "global::System.Numerics.Vector";
    const string FloatVector = "global::System.Numerics.Vector<float>";

    static Intrinsic Unary(MathFunction f, string csharp, string host, string torch, string cuda, string cpu, string vector) =>
        new(f, IntrinsicKind.Elementwise, 1, new[] { csharp })
        {
            Host = host, Portable = a => $"{a[0]}.{torch}()", Cuda = cuda, CpuScalar = cpu, CpuVector = vector,
        };

    /// <summary>A function of one float that C# has in MathF, CUDA as <c>name</c>f, TorchSharp as a method.</summary>
    static Intrinsic Standard(MathFunction f, string name, string torch, string cuda) =>
        Unary(f, "Math." + name, $"{Math}.{name}({{0}})", torch, $"{cuda}({{0}})", $"{MathF}.{name}({{0}})", $"{RuntimeApi.VectorMath}.{name}({{0}})");

    static Intrinsic Reduction(MathFunction f, IntrinsicKind kind, string csharp, string portable) =>
        new(f, kind, 1, new[] { csharp }) { Portable = a => Template.Apply(portable, new[] { a[0] }, a.Parameter) };

    public static readonly IReadOnlyList<Intrinsic> All = new Intrinsic[]
    {
        Unary(MathFunction.Sqrt, "Math.Sqrt", $"{Math}.Sqrt({{0}})", "sqrt", "sqrtf({0})", $"{MathF}.Sqrt({{0}})", $"{Vector}.SquareRoot({{0}})"),
        Unary(MathFunction.Abs, "Math.Abs", $"{Math}.Abs({{0}})", "abs", "fabsf({0})", $"{MathF}.Abs({{0}})", $"{Vector}.Abs({{0}})"),
        Unary(MathFunction.Sign, "Math.Sign", $"{RuntimeApi.HostMath}.Sign({{0}})", "sign", "optdsl_sign({0})", $"{RuntimeApi.CpuMath}.Sign({{0}})", $"{RuntimeApi.VectorMath}.Sign({{0}})")
            with { CSharp = new[] { "Math.Sign", "OptMath.Sign" }, HostInteger = $"((long){Math}.Sign({{0}}))" },
        new(MathFunction.Min, IntrinsicKind.Elementwise, 2, new[] { "Math.Min" })
        {
            Host = $"{Math}.Min({{0}}, {{1}})", Portable = a => $"{RuntimeApi.TensorMath}.Min({a[0]}, {a[1]})",
            Cuda = "optdsl_min({0}, {1})", CpuScalar = $"{MathF}.Min({{0}}, {{1}})", CpuVector = $"{RuntimeApi.VectorMath}.Min({{0}}, {{1}})",
        },
        new(MathFunction.Max, IntrinsicKind.Elementwise, 2, new[] { "Math.Max" })
        {
            Host = $"{Math}.Max({{0}}, {{1}})", Portable = a => $"{RuntimeApi.TensorMath}.Max({a[0]}, {a[1]})",
            Cuda = "optdsl_max({0}, {1})", CpuScalar = $"{MathF}.Max({{0}}, {{1}})", CpuVector = $"{RuntimeApi.VectorMath}.Max({{0}}, {{1}})",
        },
        new(MathFunction.Pow, IntrinsicKind.Elementwise, 2, new[] { "Math.Pow" })
        {
            Host = $"{Math}.Pow({{0}}, {{1}})",
            Portable = a => a.IsTensor(0) ? $"{a[0]}.pow({a.Scalar(1)})" : $"{RuntimeApi.TensorMath}.Pow({a[0]}, {a[1]})",
            Cuda = "powf({0}, {1})", CpuScalar = $"{MathF}.Pow({{0}}, {{1}})", CpuVector = $"{RuntimeApi.VectorMath}.Pow({{0}}, {{1}})",
        },
        Standard(MathFunction.Exp, "Exp", "exp", "expf"),
        Standard(MathFunction.Log, "Log", "log", "logf"),
        Standard(MathFunction.Log2, "Log2", "log2", "log2f"),
        Standard(MathFunction.Log10, "Log10", "log10", "log10f"),
        Standard(MathFunction.Tanh, "Tanh", "tanh", "tanhf"),
        Standard(MathFunction.Sin, "Sin", "sin", "sinf"),
        Standard(MathFunction.Cos, "Cos", "cos", "cosf"),
        Standard(MathFunction.Tan, "Tan", "tan", "tanf"),
        Standard(MathFunction.Atan, "Atan", "atan", "atanf"),
        // atan2(y, x): the angle of (x, y), finite for every pair but (0, 0), where it is 0 (Adam-atan2's whole point).
        new(MathFunction.Atan2, IntrinsicKind.Elementwise, 2, new[] { "Math.Atan2" })
        {
            Host = $"{Math}.Atan2({{0}}, {{1}})", Portable = a => $"{RuntimeApi.TensorMath}.Atan2({a[0]}, {a[1]})",
            Cuda = "atan2f({0}, {1})", CpuScalar = $"{MathF}.Atan2({{0}}, {{1}})", CpuVector = $"{RuntimeApi.VectorMath}.Atan2({{0}}, {{1}})",
        },
        Unary(MathFunction.Floor, "Math.Floor", $"{Math}.Floor({{0}})", "floor", "floorf({0})", $"{MathF}.Floor({{0}})", $"{Vector}.Floor({{0}})"),
        Unary(MathFunction.Ceiling, "Math.Ceiling", $"{Math}.Ceiling({{0}})", "ceil", "ceilf({0})", $"{MathF}.Ceiling({{0}})", $"{Vector}.Ceiling({{0}})"),
        // C#'s Math.Round rounds half to even, as CUDA's rintf and torch.round do.
        Standard(MathFunction.Round, "Round", "round", "rintf"),
        Standard(MathFunction.Truncate, "Truncate", "trunc", "truncf"),
        new(MathFunction.Clamp, IntrinsicKind.Elementwise, 3, new[] { "Math.Clamp", "OptMath.Clamp" })
        {
            Host = $"{RuntimeApi.HostMath}.Clamp({{0}}, {{1}}, {{2}})", HostInteger = $"{Math}.Clamp({{0}}, {{1}}, {{2}})",
            Portable = a => a.IsTensor(1) || a.IsTensor(2)
                ? $"{RuntimeApi.TensorMath}.Clamp({a.AsTensor(0)}, {a.AsTensor(1)}, {a.AsTensor(2)})"
                : $"{RuntimeApi.TensorMath}.Clamp({a[0]}, {a[1]}, {a[2]})",
            Cuda = "optdsl_clamp({0}, {1}, {2})", CpuScalar = $"{RuntimeApi.CpuMath}.Clamp({{0}}, {{1}}, {{2}})",
            CpuVector = $"{RuntimeApi.VectorMath}.Clamp({{0}}, {{1}}, {{2}})",
        },
        new(MathFunction.FusedMultiplyAdd, IntrinsicKind.Elementwise, 3, new[] { "Math.FusedMultiplyAdd" })
        {
            Host = $"{Math}.FusedMultiplyAdd({{0}}, {{1}}, {{2}})",
            PortableExpansion = a => new Binary(BinaryOp.Add, new Binary(BinaryOp.Multiply, a[0], a[1], ValueKind.Real), a[2], ValueKind.Real),
            Cuda = "fmaf({0}, {1}, {2})", CpuScalar = $"{MathF}.FusedMultiplyAdd({{0}}, {{1}}, {{2}})",
            CpuVector = $"{RuntimeApi.VectorMath}.FusedMultiplyAdd({{0}}, {{1}}, {{2}})",
        },
        Unary(MathFunction.Rsqrt, "OptMath.Rsqrt", $"{RuntimeApi.HostMath}.Rsqrt({{0}})", "rsqrt", "(1.f / sqrtf({0}))", $"(1f / {MathF}.Sqrt({{0}}))",
            $"({FloatVector}.One / {Vector}.SquareRoot({{0}}))"),
        new(MathFunction.Square, IntrinsicKind.Elementwise, 1, new[] { "OptMath.Square" })
        {
            Host = $"{RuntimeApi.HostMath}.Square({{0}})", Portable = a => $"{a[0]}.mul({a[0]})",
            Cuda = "({0} * {0})", CpuScalar = "({0} * {0})", CpuVector = "({0} * {0})",
        },
        Unary(MathFunction.Sigmoid, "OptMath.Sigmoid", $"{RuntimeApi.HostMath}.Sigmoid({{0}})", "sigmoid", "optdsl_sigmoid({0})",
            $"{RuntimeApi.CpuMath}.Sigmoid({{0}})", $"{RuntimeApi.VectorMath}.Sigmoid({{0}})"),
        new(MathFunction.Lerp, IntrinsicKind.Elementwise, 3, new[] { "OptMath.Lerp" })
        {
            Host = $"{RuntimeApi.HostMath}.Lerp({{0}}, {{1}}, {{2}})",
            Portable = a => $"{RuntimeApi.TensorMath}.Lerp({a.AsTensor(0)}, {a.AsTensor(1)}, {a[2]})",
            Cuda = "optdsl_lerp({0}, {1}, {2})", CpuScalar = $"{RuntimeApi.CpuMath}.Lerp({{0}}, {{1}}, {{2}})",
            CpuVector = $"{RuntimeApi.VectorMath}.Lerp({{0}}, {{1}}, {{2}})",
        },

        // Reduce.*: one value per tensor, a 0-d tensor on the parameter's device (no host synchronisation; it broadcasts).
        Reduction(MathFunction.ReduceSum, IntrinsicKind.Reduction, "Reduce.Sum", RuntimeApi.TensorMath + ".ReduceSum({0}, {p})") with { FusedReduction = "Sum" },
        Reduction(MathFunction.ReduceMean, IntrinsicKind.Reduction, "Reduce.Mean", RuntimeApi.TensorMath + ".ReduceMean({0}, {p})") with { FusedReduction = "Mean" },
        Reduction(MathFunction.ReduceMax, IntrinsicKind.Reduction, "Reduce.Max", RuntimeApi.TensorMath + ".ReduceMax({0}, {p})") with { FusedReduction = "Max" },
        Reduction(MathFunction.ReduceMin, IntrinsicKind.Reduction, "Reduce.Min", RuntimeApi.TensorMath + ".ReduceMin({0}, {p})") with { FusedReduction = "Min" },
        Reduction(MathFunction.ReduceMaxAbs, IntrinsicKind.Reduction, "Reduce.MaxAbs", RuntimeApi.TensorMath + ".ReduceMaxAbs({0}, {p})") with { FusedReduction = "MaxAbs" },
        Reduction(MathFunction.ReduceNorm, IntrinsicKind.Reduction, "Reduce.Norm", RuntimeApi.TensorMath + ".ReduceNorm({0}, {p})") with { FusedReduction = "Norm" },
        Reduction(MathFunction.ReduceVar, IntrinsicKind.Reduction, "Reduce.Var", RuntimeApi.TensorMath + ".ReduceVar({0}, {p})") with { FusedReduction = "Var" },
        Reduction(MathFunction.ReduceStd, IntrinsicKind.Reduction, "Reduce.Std", RuntimeApi.TensorMath + ".ReduceStd({0}, {p})") with { FusedReduction = "Std" },
        Reduction(MathFunction.ReduceRms, IntrinsicKind.Reduction, "Reduce.Rms", RuntimeApi.TensorMath + ".ReduceRms({0}, {p})") with { FusedReduction = "Rms" },
        // Reduce.Global*/Group*: the update pauses and the runtime reduces over every tensor (of the group) at once.
        new(MathFunction.GlobalSum, IntrinsicKind.GlobalReduction, 1, new[] { "Reduce.GlobalSum" }) { FusedReduction = "Sum" },
        new(MathFunction.GlobalNorm, IntrinsicKind.GlobalReduction, 1, new[] { "Reduce.GlobalNorm" }) { FusedReduction = "Norm" },
        new(MathFunction.GlobalMaxAbs, IntrinsicKind.GlobalReduction, 1, new[] { "Reduce.GlobalMaxAbs" }) { FusedReduction = "MaxAbs" },
        new(MathFunction.GroupSum, IntrinsicKind.GroupReduction, 1, new[] { "Reduce.GroupSum" }) { FusedReduction = "Sum" },
        new(MathFunction.GroupNorm, IntrinsicKind.GroupReduction, 1, new[] { "Reduce.GroupNorm" }) { FusedReduction = "Norm" },
        new(MathFunction.GroupMaxAbs, IntrinsicKind.GroupReduction, 1, new[] { "Reduce.GroupMaxAbs" }) { FusedReduction = "MaxAbs" },

        // Matrix.*: the parameter viewed as a matrix (its first dimension by the rest).
        // Orthogonalisation takes (value, steps, a, b, c, schedule); the runtime's Coefficients reads the schedule: 0, the
        // same (a, b, c) every iteration, 1, Polar Express's table. Without coefficients, Newton-Schulz takes the
        // quintic ones of Muon's reference implementation.
        new(MathFunction.MatrixNewtonSchulz, IntrinsicKind.Orthogonalization, 6, new[] { "Matrix.NewtonSchulz" })
        {
            DefaultArguments = new[] { 3.4445, -4.7750, 2.0315, 0 },
            FusedMatrix = true,
        },
        new(MathFunction.MatrixPolarExpress, IntrinsicKind.Orthogonalization, 6, new[] { "Matrix.PolarExpress" })
        {
            DefaultArguments = new[] { 0, 0, 0, 1.0 },
            FusedMatrix = true,
        },
        new(MathFunction.MatrixRows, IntrinsicKind.Shape, 0, new[] { "Matrix.Rows" }) { Host = $"((double){RuntimeApi.MatrixMath}.RowCount({{p}}))" },
        new(MathFunction.MatrixColumns, IntrinsicKind.Shape, 0, new[] { "Matrix.Columns" }) { Host = $"((double){RuntimeApi.MatrixMath}.ColumnCount({{p}}))" },
        Reduction(MathFunction.MatrixRowSum, IntrinsicKind.RowReduction, "Matrix.RowSum", RuntimeApi.MatrixMath + ".RowSum({0}, {p})") with { FusedReduction = "Sum" },
        Reduction(MathFunction.MatrixRowMean, IntrinsicKind.RowReduction, "Matrix.RowMean", RuntimeApi.MatrixMath + ".RowMean({0}, {p})") with { FusedReduction = "Mean" },
        Reduction(MathFunction.MatrixRowNorm, IntrinsicKind.RowReduction, "Matrix.RowNorm", RuntimeApi.MatrixMath + ".RowNorm({0}, {p})") with { FusedReduction = "Norm" },
        Reduction(MathFunction.MatrixColumnSum, IntrinsicKind.ColumnReduction, "Matrix.ColumnSum", RuntimeApi.MatrixMath + ".ColumnSum({0}, {p})") with { FusedReduction = "Sum" },
        Reduction(MathFunction.MatrixColumnMean, IntrinsicKind.ColumnReduction, "Matrix.ColumnMean", RuntimeApi.MatrixMath + ".ColumnMean({0}, {p})") with { FusedReduction = "Mean" },
        Reduction(MathFunction.MatrixColumnNorm, IntrinsicKind.ColumnReduction, "Matrix.ColumnNorm", RuntimeApi.MatrixMath + ".ColumnNorm({0}, {p})") with { FusedReduction = "Norm" },
    };

    static readonly Dictionary<MathFunction, Intrinsic> ByFunction = All.ToDictionary(i => i.Function);

    /// <summary>The row of <paramref name="function"/>.</summary>
    public static Intrinsic Of(MathFunction function) => ByFunction[function];

    /// <summary>
    /// The function a call to <paramref name="container"/>.<paramref name="name"/> with <paramref name="arity"/>
    /// arguments means (C# may leave out any trailing run of its <see cref="Intrinsic.DefaultArguments"/>), or null.
    /// </summary>
    public static Intrinsic? Resolve(string? container, string name, int arity)
    {
        var prefix = container switch
        {
            "System.MathF" or "System.Math" => "Math.",
            "OptDsl.OptMath" => "OptMath.",
            "OptDsl.Reduce" => "Reduce.",
            "OptDsl.Matrix" => "Matrix.",
            _ => null,
        };
        if (prefix is null) return null;
        // C# may leave out the trailing arguments that have defaults (Newton-Schulz's coefficients, its schedule).
        return All.FirstOrDefault(i => i.CSharp.Contains(prefix + name) && arity <= i.Arity && arity >= i.Arity - i.DefaultArguments.Length);
    }

    /// <summary>What a rule may call, for the message of a call it may not make.</summary>
    public static readonly string Supported = string.Join("; ", new[] { "Math.", "OptMath.", "Reduce.", "Matrix." }.Select(prefix =>
    {
        // A function C# has in MathF as well as in OptMath is listed once, under MathF.
        var names = All.Where(i => i.CSharp.Any(c => c.StartsWith(prefix, System.StringComparison.Ordinal))
                                   && (prefix == "Math." || !i.CSharp.Any(c => c.StartsWith("Math.", System.StringComparison.Ordinal))))
            .Select(i => i.CSharp.First(c => c.StartsWith(prefix, System.StringComparison.Ordinal)).Substring(prefix.Length));
        var list = string.Join(", ", names);
        return prefix == "Math." ? list : prefix + list;
    }));
}
