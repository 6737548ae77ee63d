namespace OptDsl.Runtime.Core;

/// <summary>Which fused update a parameter takes.</summary>
internal enum FusedTarget
{
    None,
    Cuda,
    Cpu,
}
