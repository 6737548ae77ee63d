namespace OptDsl.Runtime;

/// <summary>Which generated code updates the parameters.</summary>
public enum UpdateBackend
{
    /// <summary>The fused CUDA kernel for fp32 CUDA tensors where it can run, the portable path for everything else.</summary>
    Auto,
    /// <summary>Always the portable path: the rule as TorchSharp operations (for checking, or on devices without NVRTC).</summary>
    Portable,
    /// <summary>The fused CUDA kernel; a parameter it cannot take, or a machine where it cannot run, is an error.</summary>
    FusedCuda,
}
