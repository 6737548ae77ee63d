// Parameters and gradients in their own type, all math and state in float32: convert on load, round once on store.
// Kinds: 0 float32, 1 bfloat16, 2 float16, to nearest; 3 bfloat16 stochastically; 4 bfloat16, 5 float16 with Kahan
// compensation (Backends/StochasticRounding.cs and KahanCompensation.cs define them; ParamKind.cs names them).
#define OPTDSL_BF16 (OPTDSL_PARAM_KIND == 1 || OPTDSL_PARAM_KIND == 3 || OPTDSL_PARAM_KIND == 4)
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
#if OPTDSL_BF16
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

// The update's result into element i: rounded to nearest, stochastically, or with Kahan compensation. r is the
// tensor's rounding word: its key (kind 3) or its compensation buffer's address (kinds 4, 5); before, the value loaded.
__device__ __forceinline__ unsigned int optdsl_mix(unsigned int x)
{
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}
#if OPTDSL_PARAM_KIND >= 3
// One element's result, stochastically (kind 3) or with Kahan's buffer value in *kept (kinds 4, 5).
__device__ __forceinline__ unsigned short optdsl_round1(long long i, float before, float after, unsigned long long r, float* kept)
{
#if OPTDSL_PARAM_KIND == 3
    const unsigned int u = __float_as_uint(after);
    return (u & 0x7f800000u) == 0x7f800000u ? optdsl_store(after)
        : (unsigned short)((u + (optdsl_mix((unsigned int)r + (unsigned int)i) & 0xffffu)) >> 16);
#else
    const float carried = (after - before) + *kept;
    const unsigned short stored = optdsl_store(before + carried);
    *kept = carried - (optdsl_load(stored) - before);
    return stored;
#endif
}
#endif
__device__ __forceinline__ void optdsl_put(optdsl_param* p, long long i, float before, float after, unsigned long long r)
{
#if OPTDSL_PARAM_KIND >= 4
    optdsl_param* c = (optdsl_param*)r;
    float kept = optdsl_load(c[i]);
    p[i] = optdsl_round1(i, before, after, r, &kept);
    c[i] = optdsl_store(kept);
#elif OPTDSL_PARAM_KIND == 3
    p[i] = optdsl_round1(i, before, after, r, 0);
#else
    p[i] = optdsl_store(after);
#endif
}
// Four elements' results packed into one 8-byte store (and Kahan's buffer read and written 8 bytes at a time: it is
// allocated like the parameter, so aligned wherever the parameter is).
__device__ __forceinline__ void optdsl_put4(optdsl_param* p, long long i, float4 before, float4 after, unsigned long long r)
{
#if OPTDSL_PARAM_KIND >= 3
    float4 c = make_float4(0.f, 0.f, 0.f, 0.f);
#if OPTDSL_PARAM_KIND >= 4
    c = optdsl_load4((optdsl_param*)r + i);
#endif
    uint2 u;
    u.x = (unsigned int)optdsl_round1(i, before.x, after.x, r, &c.x) | ((unsigned int)optdsl_round1(i + 1, before.y, after.y, r, &c.y) << 16);
    u.y = (unsigned int)optdsl_round1(i + 2, before.z, after.z, r, &c.z) | ((unsigned int)optdsl_round1(i + 3, before.w, after.w, r, &c.w) << 16);
    *reinterpret_cast<uint2*>(p + i) = u;
#if OPTDSL_PARAM_KIND >= 4
    optdsl_store4((optdsl_param*)r + i, c);
#endif
#else
    optdsl_store4(p + i, after);
#endif
}
