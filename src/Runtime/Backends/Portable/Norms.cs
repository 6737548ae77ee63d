using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// Vector norms from elementary operations. TorchSharp 0.107's <c>torch.linalg.vector_norm(x, ord)</c> turns
/// <c>ord</c> into a native scalar it does not keep alive, so the garbage collector may free it while libtorch reads it
/// (seen as a libtorch "toDouble" error, now and then); these take the same norms without it.
/// </summary>
public static class Norms
{
    /// <summary>The <paramref name="ord"/>-norm of <paramref name="x"/> (over <paramref name="dims"/>, or all of it).</summary>
    public static Tensor Vector(Tensor x, double ord = 2, long[]? dims = null, bool keepdim = false)
    {
        Tensor Sum(Tensor t) => dims is null ? t.sum() : t.sum(dims, keepdim);
        if (ord == 2) return Sum(x.Squared()).sqrt();
        var a = x.abs();
        if (double.IsPositiveInfinity(ord)) return dims is null ? a.amax(System.Array.Empty<long>()) : a.amax(dims, keepdim);
        if (ord == 1) return Sum(a);
        using var kept = KeptScalars.Rent();
        return Sum(a.pow(kept[ord])).pow(kept[1 / ord]);
    }
}
