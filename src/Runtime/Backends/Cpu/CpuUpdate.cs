using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>The generated fused CPU update for one chunk, with the parameter's host scalars.</summary>
public delegate void CpuUpdate(CpuChunk chunk, ReadOnlySpan<float> scalars);
