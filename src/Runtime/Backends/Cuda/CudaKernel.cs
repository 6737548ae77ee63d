namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// A declaration's update rule as CUDA C, emitted by the generator: a device function <c>optdsl_body</c> that
/// updates one element in registers. The runtime wraps it in the multi-tensor kernel (<see cref="MultiTensorLayout"/>),
/// compiles it with NVRTC at first use and launches it over many tensors at once.
/// </summary>
/// <param name="Name">The optimizer's name, for messages and the kernel cache.</param>
/// <param name="Body">CUDA C defining <c>__device__ void optdsl_body(float&amp; p, float g, float* st, const float* s)</c>.</param>
/// <param name="StateCount">Per-element states, in declaration order (<c>st[0..]</c>).</param>
/// <param name="ScalarCount">Host-computed scalars the body reads (<c>s[0..]</c>), filled per tensor each step.</param>
/// <param name="Reductions">
/// For a rule with reductions, its phases: <c>Body</c> then also defines <c>optdsl_phase1</c>... (one per phase but the
/// last, accumulating into <c>a</c>), and <c>optdsl_body</c> reads the reductions' results in a fifth argument, <c>r</c>.
/// </param>
public sealed record CudaKernel(string Name, string Body, int StateCount, int ScalarCount, ReductionPlan? Reductions = null);
