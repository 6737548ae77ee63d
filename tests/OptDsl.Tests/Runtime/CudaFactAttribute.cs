using TorchSharp;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>A test that needs a CUDA device; skipped (reported as such) where there is none, as on CI.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available()) Skip = "no CUDA device here (the GPU runs are tests/GpuCheck)";
    }
}

/// <summary>A theory that needs a CUDA device; skipped (reported as such) where there is none, as on CI.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (!torch.cuda.is_available()) Skip = "no CUDA device here (the GPU runs are tests/GpuCheck)";
    }
}
