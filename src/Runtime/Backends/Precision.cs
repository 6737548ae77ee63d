using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>
/// The type a parameter's update computes in and its state is kept in: float32 for bfloat16 and float16 parameters
/// (moments kept in half precision lose the small updates that matter), the parameter's own otherwise.
/// </summary>
internal static class Precision
{
    /// <summary>The type a parameter of type <paramref name="parameter"/> is updated in.</summary>
    public static ScalarType ComputeType(ScalarType parameter) =>
        parameter is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : parameter;

    /// <summary><paramref name="t"/> in <see cref="ComputeType"/>: float32 for half precision (as sums and norms need), else itself.</summary>
    public static Tensor InComputeType(Tensor t) => ComputeType(t.dtype) == t.dtype ? t : t.to(ComputeType(t.dtype));
}
