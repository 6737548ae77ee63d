namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The parameter (and gradient) types the fused kernel takes, and how it stores a half-precision result (the kernel's
/// OPTDSL_PARAM_KIND); its state is float32 for all of them.
/// </summary>
internal enum ParamKind
{
    Float32,
    BFloat16,
    Float16,
    /// <summary>bfloat16, rounded stochastically under each tensor's key (<see cref="StochasticRounding"/>).</summary>
    BFloat16Stochastic,
    /// <summary>bfloat16 with Kahan compensation (<see cref="KahanCompensation"/>).</summary>
    BFloat16Kahan,
    /// <summary>float16 with Kahan compensation.</summary>
    Float16Kahan,
}
