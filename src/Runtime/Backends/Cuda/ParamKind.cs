namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>The parameter (and gradient) types the fused kernel takes; its state is float32 for all of them.</summary>
internal enum ParamKind
{
    Float32,
    BFloat16,
    Float16,
}
