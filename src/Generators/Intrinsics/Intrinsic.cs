using System;
using System.Collections.Generic;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Intrinsics;

/// <summary>
/// One function an update rule may call, with its meaning on every target: how C# names it, its arity and kind, and
/// how the host (C# over doubles), the portable backend (TorchSharp), CUDA C and the fused CPU loop (scalar and
/// <c>Vector&lt;float&gt;</c>) spell it. Spellings are templates over the argument code: <c>{0}</c>, <c>{1}</c>,
/// <c>{2}</c>, and <c>{p}</c> for the parameter tensor. A target without a spelling has no elementwise form of the
/// function; its emitter handles the function's kind instead (a reduction, a request to the runtime).
/// </summary>
public sealed record Intrinsic(MathFunction Function, IntrinsicKind Kind, int Arity, string[] CSharp)
{
    /// <summary>Trailing arguments C# may leave out, with the values the rule then means.</summary>
    public double[] DefaultArguments { get; init; } = Array.Empty<double>();

    /// <summary>C# over doubles, computed once per step on the host.</summary>
    public string? Host { get; init; }

    /// <summary>The host spelling where the result is an integer (<c>Math.Sign</c> of an int), if it differs.</summary>
    public string? HostInteger { get; init; }

    /// <summary>TorchSharp operations on whole tensors; see <see cref="PortableArguments"/>.</summary>
    public Func<PortableArguments, string>? Portable { get; init; }

    /// <summary>
    /// For the portable backend, the call written as other expressions of the rule (<c>a * b + c</c>), which that
    /// backend then evaluates as it does any expression (fusing it into in-place updates where it can).
    /// </summary>
    public Func<IReadOnlyList<Expr>, Expr>? PortableExpansion { get; init; }

    /// <summary>CUDA C over floats (the device functions <c>optdsl_*</c> live in the runtime's kernel prelude).</summary>
    public string? Cuda { get; init; }

    /// <summary>C# over one float, for the fused CPU loop's tail.</summary>
    public string? CpuScalar { get; init; }

    /// <summary>C# over <c>Vector&lt;float&gt;</c> lanes, for the fused CPU loop.</summary>
    public string? CpuVector { get; init; }

    /// <summary>
    /// For a reduction the fused backends compute in a pass of their own: the runtime's <c>ReductionOp</c> member that
    /// accumulates and finishes it (Sum, Mean, Norm, Rms, Max, Min, MaxAbs, Var, Std), over the tensor, over each row
    /// or column of it (<c>Matrix.RowMean</c> and kin) or, for the global and group reductions, over the tensors they
    /// span; null where they cannot.
    /// </summary>
    public string? FusedReduction { get; init; }

    /// <summary>
    /// Whether the fused backends run the function between two phases as a library call on whole matrices
    /// (<c>Matrix.NewtonSchulz</c>): one phase stores the argument for every element, the runtime orthogonalises the
    /// stored matrices in batches, and later phases read the result per element.
    /// </summary>
    public bool FusedMatrix { get; init; }

    /// <summary>How a rule writes the function, for messages: <c>Sqrt</c>, <c>Reduce.Norm</c>, <c>Matrix.NewtonSchulz</c>.</summary>
    public string Display => Kind == IntrinsicKind.Elementwise ? Name : CSharp[0];

    /// <summary>The method's name without its class.</summary>
    public string Name => CSharp[0].Substring(CSharp[0].IndexOf('.') + 1);

    /// <summary>Whether the function needs the whole tensor (a pass of its own), not one element.</summary>
    public bool IsWholeTensor => Kind != IntrinsicKind.Elementwise;

    /// <summary>Whether the update must pause at the function for the runtime to answer it across tensors.</summary>
    public bool NeedsSteps => Kind is IntrinsicKind.GlobalReduction or IntrinsicKind.GroupReduction or IntrinsicKind.Orthogonalization;
}

/// <summary>
/// The arguments of a call as the portable backend has them: each a host value (C# over doubles) or a tensor.
/// </summary>
public abstract class PortableArguments
{
    /// <summary>The argument's code: a C# expression over doubles, or a tensor variable.</summary>
    public abstract string this[int index] { get; }

    /// <summary>Whether the argument is a tensor rather than a host value.</summary>
    public abstract bool IsTensor(int index);

    /// <summary>The argument where TorchSharp takes a <c>Scalar</c> or a tensor: a host value as a Scalar kept alive for the update.</summary>
    public abstract string Scalar(int index);

    /// <summary>The argument as a tensor: a host value becomes a 0-d tensor typed and placed like the parameter.</summary>
    public abstract string AsTensor(int index);

    /// <summary>The parameter tensor.</summary>
    public abstract string Parameter { get; }
}
