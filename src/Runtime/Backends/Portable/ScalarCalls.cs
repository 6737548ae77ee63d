using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The TorchSharp calls that make a <see cref="Scalar"/> of their own and let it go during the native call, written with
/// one that stays alive (see <see cref="KeptScalars"/> for why). For a number that changes, rent a
/// <see cref="KeptScalars"/>; these need only constants, so they allocate nothing.
/// </summary>
public static class ScalarCalls
{
    /// <summary>
    /// The Scalar 1, alive for the whole process: the alpha of a plain add. An integer, as TorchSharp's own, so that it
    /// is also a valid alpha for integer tensors.
    /// </summary>
    public static readonly Scalar One = 1L.ToScalar();

    /// <summary><c>a + b</c>; TorchSharp's <c>a + b</c> and <c>a.add(b)</c> pass an alpha of 1 that they do not keep.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a += b</c> in place; TorchSharp's <c>a.add_(b)</c> passes an alpha of 1 that it does not keep.</summary>
    public static Tensor Plus_(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>
    /// <c>t * t</c>, which is what libtorch computes for <c>t.pow(2)</c>; TorchSharp's <c>square()</c> passes an exponent of
    /// 2 that it does not keep.
    /// </summary>
    public static Tensor Squared(this Tensor t) => t.mul(t);
}
