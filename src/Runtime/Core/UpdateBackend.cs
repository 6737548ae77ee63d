namespace OptDsl.Runtime.Core;

/// <summary>Which generated code updates the parameters.</summary>
public enum UpdateBackend
{
    /// <summary>
    /// The fused update where it can run — the CUDA kernel for float32, bfloat16 and float16 CUDA tensors, the
    /// vectorised loop for float32 CPU tensors — and the portable path for everything else.
    /// </summary>
    Auto,
    /// <summary>Always the portable path: the rule as TorchSharp operations (for checking, or on devices without NVRTC).</summary>
    Portable,
    /// <summary>The fused update for every parameter; one it cannot take, or a machine where it cannot run, is an error.</summary>
    Fused,
}
