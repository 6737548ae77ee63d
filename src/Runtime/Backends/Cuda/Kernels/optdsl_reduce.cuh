// Shared by the phased kernels (multi_tensor_phases.cu, multi_tensor_rows.cu): the runtime's bf16 matrices, and how a
// reduction starts, combines two partials, finishes and combines a block's threads in a fixed tree. Needs
// OPTDSL_THREADS and the intrinsics (optdsl_max, optdsl_min).
// The runtime's matrices are bfloat16 (what the orthogonalisation runs in on CUDA), whatever the parameter's type.
__device__ __forceinline__ float optdsl_bf16_load(unsigned short x) { return __uint_as_float(((unsigned int)x) << 16); }
__device__ __forceinline__ unsigned short optdsl_bf16_store(float x)
{
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)0x7fc0;   // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                       // round to nearest even
    return (unsigned short)(u >> 16);
}

__device__ __forceinline__ float optdsl_identity(int op)
{
    return op == 4 ? __int_as_float(0xff800000) : (op == 5 ? __int_as_float(0x7f800000) : 0.f);
}

__device__ __forceinline__ float optdsl_combine(int op, float a, float b)
{
    return (op == 4 || op == 6) ? optdsl_max(a, b) : (op == 5 ? optdsl_min(a, b) : a + b);
}

__device__ __forceinline__ float optdsl_finish(int op, float v, long long n)
{
    if (op == 7 || op == 8)   // unbiased, as torch.var and torch.std: NaN below two elements
    {
        const float var = n < 2 ? __int_as_float(0x7fc00000) : v / (float)(n - 1);
        return op == 8 ? sqrtf(var) : var;
    }
    return op == 1 ? v / (float)n : (op == 2 ? sqrtf(v) : (op == 3 ? sqrtf(v / (float)n) : v));
}

// The block's combination of every thread's v, in a fixed tree (warps by shuffles, then the warps' results in order);
// the value is thread 0's. Every thread of the block must call it.
__device__ float optdsl_block_reduce(int op, float v, float* warps)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = optdsl_combine(op, v, __shfl_down_sync(0xffffffffu, v, o));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warps[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        v = lane < OPTDSL_THREADS / 32 ? warps[lane] : optdsl_identity(op);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) v = optdsl_combine(op, v, __shfl_down_sync(0xffffffffu, v, o));
    }
    __syncthreads();
    return v;
}
