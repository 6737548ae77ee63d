// OptDsl multi-tensor norm: one float32 partial per chunk.
// A template: MultiTensorNorm fills the placeholders between at-signs (the launch layout, and the element type:
// 0 float32, 1 bfloat16, 2 float16).
#define OPTDSL_MAX_TENSORS @MAX_TENSORS@
#define OPTDSL_MAX_BLOCKS @MAX_BLOCKS@
#define OPTDSL_CHUNK @CHUNK@
#define OPTDSL_THREADS @THREADS@
#define OPTDSL_KIND @KIND@
#if OPTDSL_KIND == 0
typedef float optdsl_elem;
__device__ __forceinline__ float optdsl_load(float x) { return x; }
#elif OPTDSL_KIND == 1
typedef unsigned short optdsl_elem;
__device__ __forceinline__ float optdsl_load(unsigned short x) { return __uint_as_float(((unsigned int)x) << 16); }
#else
typedef unsigned short optdsl_elem;
__device__ __forceinline__ float optdsl_load(unsigned short x) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x)); return f; }
#endif
struct OptDslNormMeta
{
    const void* ptr[OPTDSL_MAX_TENSORS];
    long long numel[OPTDSL_MAX_TENSORS];
    int chunk[OPTDSL_MAX_BLOCKS];
    unsigned char tensor[OPTDSL_MAX_BLOCKS];
};
// mode 0: sum of squares; 1: max |x| (NaN wins, as torch's norm); 2: sum of |x|^p.
__device__ __forceinline__ float optdsl_combine(float a, float b, int mode)
{
    if (mode == 1) return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b);
    return a + b;
}
extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_norm(const OptDslNormMeta meta, float* __restrict__ out, float p, int mode)
{
    const int t = meta.tensor[blockIdx.x];
    const long long n = meta.numel[t];
    const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
    const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
    const optdsl_elem* x = (const optdsl_elem*)meta.ptr[t];
    float acc = 0.f;
    for (long long i = start + threadIdx.x; i < end; i += OPTDSL_THREADS)
    {
        float v = fabsf(optdsl_load(x[i]));
        acc = optdsl_combine(acc, mode == 0 ? v * v : mode == 1 ? v : powf(v, p), mode);
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc = optdsl_combine(acc, __shfl_down_sync(0xffffffffu, acc, offset), mode);
    __shared__ float warps[OPTDSL_THREADS / 32];
    if ((threadIdx.x & 31) == 0) warps[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32)
    {
        acc = threadIdx.x < OPTDSL_THREADS / 32 ? warps[threadIdx.x] : 0.f;
        for (int offset = 16; offset > 0; offset >>= 1) acc = optdsl_combine(acc, __shfl_down_sync(0xffffffffu, acc, offset), mode);
        if (threadIdx.x == 0) out[blockIdx.x] = acc;
    }
}
