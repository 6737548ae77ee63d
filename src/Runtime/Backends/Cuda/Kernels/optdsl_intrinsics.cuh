// The device functions that generated element bodies (optdsl_body) call for the DSL's intrinsics — Math/MathF's
// Min, Max, Sign, Clamp, OptMath's Sigmoid, Lerp — with the host's NaN semantics. The generator emits these names;
// keep them. Inlined into a kernel where it says #include "optdsl_intrinsics.cuh".
__device__ __forceinline__ float optdsl_nan() { return __int_as_float(0x7fc00000); }
// MathF.Min/Max and torch.minimum/maximum propagate NaN; fminf/fmaxf do not.
__device__ __forceinline__ float optdsl_min(float a, float b) { return (a != a || b != b) ? optdsl_nan() : fminf(a, b); }
__device__ __forceinline__ float optdsl_max(float a, float b) { return (a != a || b != b) ? optdsl_nan() : fmaxf(a, b); }
__device__ __forceinline__ float optdsl_sign(float x) { return (float)((x > 0.f) - (x < 0.f)); }
__device__ __forceinline__ float optdsl_sigmoid(float x) { return 1.f / (1.f + expf(-x)); }
__device__ __forceinline__ float optdsl_clamp(float x, float lo, float hi) { return optdsl_min(optdsl_max(x, lo), hi); }
__device__ __forceinline__ float optdsl_lerp(float a, float b, float w) { return a + w * (b - a); }
