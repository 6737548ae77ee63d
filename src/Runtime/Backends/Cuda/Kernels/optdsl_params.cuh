// Parameters and gradients in their own type, all math and state in float32: convert on load, round once on store.
#if OPTDSL_PARAM_KIND == 0
typedef float optdsl_param;
#define OPTDSL_PARAM_ALIGN 15
__device__ __forceinline__ float optdsl_load(float x) { return x; }
__device__ __forceinline__ float optdsl_store(float x) { return x; }
__device__ __forceinline__ float4 optdsl_load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void optdsl_store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
#else
typedef unsigned short optdsl_param;
#define OPTDSL_PARAM_ALIGN 7
#if OPTDSL_PARAM_KIND == 1
__device__ __forceinline__ float optdsl_load(unsigned short x) { return __uint_as_float(((unsigned int)x) << 16); }
__device__ __forceinline__ unsigned short optdsl_store(float x)
{
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)0x7fc0;   // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                       // round to nearest even
    return (unsigned short)(u >> 16);
}
#else
__device__ __forceinline__ float optdsl_load(unsigned short x) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x)); return f; }
__device__ __forceinline__ unsigned short optdsl_store(float x) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x)); return h; }
#endif
__device__ __forceinline__ float4 optdsl_load4(const unsigned short* p)
{
    uint2 u = *reinterpret_cast<const uint2*>(p);
    return make_float4(optdsl_load((unsigned short)(u.x & 0xffffu)), optdsl_load((unsigned short)(u.x >> 16)),
                       optdsl_load((unsigned short)(u.y & 0xffffu)), optdsl_load((unsigned short)(u.y >> 16)));
}
__device__ __forceinline__ void optdsl_store4(unsigned short* p, float4 v)
{
    uint2 u;
    u.x = (unsigned int)optdsl_store(v.x) | ((unsigned int)optdsl_store(v.y) << 16);
    u.y = (unsigned int)optdsl_store(v.z) | ((unsigned int)optdsl_store(v.w) << 16);
    *reinterpret_cast<uint2*>(p) = u;
}
#endif
