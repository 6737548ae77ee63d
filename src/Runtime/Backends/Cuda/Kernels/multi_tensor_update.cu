// OptDsl multi-tensor update kernel (generated element body inside).
// A template: MultiTensorLayout fills the placeholders between at-signs — the launch layout, the parameter type
// (0 float32, 1 bfloat16, 2 float16), the mask of 8-bit states and their code tables (Backends/Quantized/CodeTable.cs),
// the declaration's element body (a generated optdsl_body) — and KernelSources inlines the #include below, so NVRTC
// compiles one self-contained source.
#define OPTDSL_STATES @STATES@
#define OPTDSL_DEPTH @DEPTH@
#define OPTDSL_SCALARS @SCALARS@
#define OPTDSL_MAX_TENSORS @MAX_TENSORS@
#define OPTDSL_MAX_BLOCKS @MAX_BLOCKS@
#define OPTDSL_CHUNK @CHUNK@
#define OPTDSL_THREADS @THREADS@
#define OPTDSL_STATE_SLOTS (OPTDSL_STATES > 0 ? OPTDSL_STATES : 1)
#define OPTDSL_PARAM_KIND @PARAM_KIND@
#define OPTDSL_Q8_MASK @Q8_MASK@

#include "optdsl_params.cuh"
#include "optdsl_intrinsics.cuh"

@BODY@

struct OptDslMeta
{
    void* ptr[OPTDSL_DEPTH][OPTDSL_MAX_TENSORS];
    long long numel[OPTDSL_MAX_TENSORS];
    int chunk[OPTDSL_MAX_BLOCKS];
    unsigned char tensor[OPTDSL_MAX_BLOCKS];
};

struct OptDslScalars { float v[OPTDSL_SCALARS]; };

__device__ __forceinline__ void optdsl_element(optdsl_param* __restrict__ p, const optdsl_param* __restrict__ g, float gs, float** st, long long i, const float* s,
    unsigned long long r)
{
    float pv = optdsl_load(p[i]);
    const float before = pv;
    float sv[OPTDSL_STATE_SLOTS];
#pragma unroll
    for (int k = 0; k < OPTDSL_STATES; k++) sv[k] = st[k] ? st[k][i] : 0.f;
    optdsl_body(pv, optdsl_load(g[i]) * gs, sv, s);
    optdsl_put(p, i, before, pv, r);
#pragma unroll
    for (int k = 0; k < OPTDSL_STATES; k++) if (st[k]) st[k][i] = sv[k];
}

#define OPTDSL_LANE(c) { \
    float sl[OPTDSL_STATE_SLOTS]; \
    _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = sv[k].c; \
    optdsl_body(pv.c, gv.c, sl, sc.v); \
    _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sv[k].c = sl[k]; }

#if OPTDSL_Q8_MASK == 0
// gscale: a factor for every gradient, on the device (global-norm clipping's coefficient), or null for none.
extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc, const float* __restrict__ gscale)
{
    const float gs = gscale ? *gscale : 1.f;
    const int t = meta.tensor[blockIdx.x];
    const long long n = meta.numel[t];
    const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
    const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
    optdsl_param* p = (optdsl_param*)meta.ptr[0][t];
    const optdsl_param* g = (const optdsl_param*)meta.ptr[1][t];
    // The last pointer row: the tensor's rounding word (optdsl_put).
    const unsigned long long r = (unsigned long long)meta.ptr[OPTDSL_DEPTH - 1][t];
    float* st[OPTDSL_STATE_SLOTS];
    bool aligned = (((unsigned long long)p | (unsigned long long)g) & OPTDSL_PARAM_ALIGN) == 0;
#pragma unroll
    for (int k = 0; k < OPTDSL_STATES; k++)
    {
        st[k] = (float*)meta.ptr[2 + k][t];
        aligned = aligned && (((unsigned long long)st[k] & 15) == 0);
    }
    long long scalarFrom = start;
    if (aligned)
    {
        // Chunks start at multiples of 4 elements: 16-byte loads for every whole vector, a scalar tail after.
        for (long long i = start + 4LL * threadIdx.x; i + 3 < end; i += 4LL * OPTDSL_THREADS)
        {
            float4 pv = optdsl_load4(p + i);
            const float4 before = pv;
            float4 gv = optdsl_load4(g + i);
            gv.x *= gs; gv.y *= gs; gv.z *= gs; gv.w *= gs;
            float4 sv[OPTDSL_STATE_SLOTS];
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
                sv[k] = st[k] ? *reinterpret_cast<float4*>(st[k] + i) : make_float4(0.f, 0.f, 0.f, 0.f);
            OPTDSL_LANE(x) OPTDSL_LANE(y) OPTDSL_LANE(z) OPTDSL_LANE(w)
            optdsl_put4(p, i, before, pv, r);
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
                if (st[k]) *reinterpret_cast<float4*>(st[k] + i) = sv[k];
        }
        scalarFrom = start + ((end - start) & ~3LL);
    }
    for (long long i = scalarFrom + threadIdx.x; i < end; i += OPTDSL_THREADS)
        optdsl_element(p, g, gs, st, i, sc.v, r);
}
#else
// 8-bit states (bit k of OPTDSL_Q8_MASK): codes in row 2 + k, block scales in row 2 + OPTDSL_STATES + k; a block's
// scale is its absmax, negative where it uses the signed map, NaN where it held NaN or infinity. Each block's new
// scale and map are reduced before its codes are written: the same codes BlockQuantizer gives.
__constant__ int optdsl_qmap_bits[512] = { @Q8_MAP_BITS@ };
#define OPTDSL_QBLOCK 256

// The number of midpoints below x — the nearest map value's index, as bucketize counts it: a bucket from x's sign,
// clamped exponent and top mantissa bits, the count of midpoints below the bucket from the table (read through the
// read-only cache), and one comparison with the only midpoint that can lie inside it (Backends.Quantized.CodeTable).
#define OPTDSL_QLOW @Q8_LOW_EXPONENT@
#define OPTDSL_QBITS @Q8_MANTISSA_BITS@
#define OPTDSL_QEXPONENTS @Q8_EXPONENTS@
__device__ const unsigned char optdsl_qstart[@Q8_CODE_STARTS_LENGTH@] = { @Q8_CODE_STARTS@ };
__device__ __forceinline__ unsigned char optdsl_nearest(const float* mid, const unsigned char* start, float x)
{
    const unsigned int u = __float_as_uint(x);
    const int e = (int)((u >> 23) & 0xffu);
    const int ec = e < OPTDSL_QLOW ? OPTDSL_QLOW - 1 : (e > 127 ? 128 : e);
    const int m = (ec == OPTDSL_QLOW - 1 || ec == 128) ? 0 : (int)((u >> (23 - OPTDSL_QBITS)) & ((1u << OPTDSL_QBITS) - 1u));
    const int key = ((int)(u >> 31) * OPTDSL_QEXPONENTS + ec - (OPTDSL_QLOW - 1)) * (1 << OPTDSL_QBITS) + m;
    const int pos = __ldg(start + key);
    return (unsigned char)(pos + (mid[pos] < x ? 1 : 0));
}

// Eight consecutive elements a thread (vector loads where aligned), so a warp covers one block of 256 exactly: each
// block's scale and map come from warp shuffles alone, with no shared memory and no barrier.
#define OPTDSL_Q8_LANES 8

__device__ __forceinline__ void optdsl_load8(const optdsl_param* x, float* v)
{
    const float4 a = optdsl_load4(x), b = optdsl_load4(x + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc, const float* __restrict__ gscale)
{
    __shared__ float qmap[512], qmid[512];
    for (int j = threadIdx.x; j < 512; j += OPTDSL_THREADS) qmap[j] = __int_as_float(optdsl_qmap_bits[j]);
    __syncthreads();
    // Midpoints as the codec computes them, (map[j] + map[j + 1]) * 0.5 in float32: [0, 255) unsigned, [256, 510) signed.
    // Slots 255, 510 and 511 hold +infinity: the comparison after a map's last midpoint is false.
    for (int j = threadIdx.x; j < 512; j += OPTDSL_THREADS) qmid[j] = (j == 255 || j >= 510) ? __int_as_float(0x7f800000) : (qmap[j] + qmap[j + 1]) * 0.5f;
    __syncthreads();
    const float gs = gscale ? *gscale : 1.f;
    const int t = meta.tensor[blockIdx.x];
    const long long n = meta.numel[t];
    const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
    const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
    optdsl_param* p = (optdsl_param*)meta.ptr[0][t];
    const optdsl_param* g = (const optdsl_param*)meta.ptr[1][t];
    bool aligned = (((unsigned long long)p | (unsigned long long)g) & OPTDSL_PARAM_ALIGN) == 0;
#pragma unroll
    for (int k = 0; k < OPTDSL_STATES; k++)
        aligned = aligned && (((unsigned long long)meta.ptr[2 + k][t] & (((OPTDSL_Q8_MASK >> k) & 1) ? 7 : 15)) == 0);
    for (long long base = start; base < end; base += OPTDSL_Q8_LANES * OPTDSL_THREADS)
    {
        const long long i0 = base + OPTDSL_Q8_LANES * threadIdx.x;
        const bool whole = aligned && i0 + OPTDSL_Q8_LANES <= end;
        float pv[OPTDSL_Q8_LANES], gv[OPTDSL_Q8_LANES], sv[OPTDSL_STATE_SLOTS][OPTDSL_Q8_LANES];
        if (whole)
        {
            optdsl_load8(p + i0, pv);
            optdsl_load8(g + i0, gv);
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++) gv[e] *= gs;
        }
        else
        {
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++)
            {
                const bool live = i0 + e < end;
                pv[e] = live ? optdsl_load(p[i0 + e]) : 0.f;
                gv[e] = live ? optdsl_load(g[i0 + e]) * gs : 0.f;
            }
        }
#pragma unroll
        for (int k = 0; k < OPTDSL_STATES; k++)
        {
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++) sv[k][e] = 0.f;
            if (!meta.ptr[2 + k][t] || i0 >= end) continue;
            if ((OPTDSL_Q8_MASK >> k) & 1)
            {
                const float a = ((const float*)meta.ptr[2 + OPTDSL_STATES + k][t])[i0 / OPTDSL_QBLOCK];
                const float scale = fabsf(a);
                const float* map = a < 0.f ? qmap + 256 : qmap;
                const unsigned char* codes = (const unsigned char*)meta.ptr[2 + k][t];
                if (whole)
                {
                    const uint2 raw = *reinterpret_cast<const uint2*>(codes + i0);
#pragma unroll
                    for (int e = 0; e < OPTDSL_Q8_LANES; e++) sv[k][e] = map[((e < 4 ? raw.x : raw.y) >> (8 * (e & 3))) & 0xffu] * scale;
                }
                else
#pragma unroll
                    for (int e = 0; e < OPTDSL_Q8_LANES; e++) if (i0 + e < end) sv[k][e] = map[codes[i0 + e]] * scale;
            }
            else
            {
                const float* st = (const float*)meta.ptr[2 + k][t];
#pragma unroll
                for (int e = 0; e < OPTDSL_Q8_LANES; e++) if (i0 + e < end) sv[k][e] = st[i0 + e];
            }
        }
#pragma unroll
        for (int e = 0; e < OPTDSL_Q8_LANES; e++)
        {
            if (i0 + e >= end) continue;
            float sl[OPTDSL_STATE_SLOTS];
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = sv[k][e];
            optdsl_body(pv[e], gv[e], sl, sc.v);
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) sv[k][e] = sl[k];
        }
        if (whole)
        {
            optdsl_store4(p + i0, make_float4(pv[0], pv[1], pv[2], pv[3]));
            optdsl_store4(p + i0 + 4, make_float4(pv[4], pv[5], pv[6], pv[7]));
        }
        else
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++) if (i0 + e < end) p[i0 + e] = optdsl_store(pv[e]);
#pragma unroll
        for (int k = 0; k < OPTDSL_STATES; k++)
        {
            if (!meta.ptr[2 + k][t]) continue;
            if (!((OPTDSL_Q8_MASK >> k) & 1))
            {
                float* st = (float*)meta.ptr[2 + k][t];
#pragma unroll
                for (int e = 0; e < OPTDSL_Q8_LANES; e++) if (i0 + e < end) st[i0 + e] = sv[k][e];
                continue;
            }
            float m = 0.f;
            int flags = 0;
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++)
            {
                const float v = i0 + e < end ? sv[k][e] : 0.f;
                if (!isfinite(v)) flags |= 2;
                else m = fmaxf(m, fabsf(v));
                if (v < 0.f) flags |= 1;
            }
            // The warp is the block: every lane ends with the block's absmax and flags.
            for (int o = 16; o > 0; o >>= 1)
            {
                m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
                flags |= __shfl_xor_sync(0xffffffffu, flags, o);
            }
            if (i0 >= end) continue;
            const bool isSigned = (flags & 1) != 0;
            const float* mid = isSigned ? qmid + 256 : qmid;
            const unsigned char* start = isSigned ? optdsl_qstart + @Q8_SIGNED_STARTS@ : optdsl_qstart;
            const bool usable = m > 0.f && !(flags & 2);
            const float r = usable ? 1.f / m : 0.f;
            unsigned char c[OPTDSL_Q8_LANES];
#pragma unroll
            for (int e = 0; e < OPTDSL_Q8_LANES; e++) c[e] = optdsl_nearest(mid, start, sv[k][e] * r);
            unsigned char* codes = (unsigned char*)meta.ptr[2 + k][t];
            if (whole)
            {
                uint2 raw;
                raw.x = (unsigned int)c[0] | ((unsigned int)c[1] << 8) | ((unsigned int)c[2] << 16) | ((unsigned int)c[3] << 24);
                raw.y = (unsigned int)c[4] | ((unsigned int)c[5] << 8) | ((unsigned int)c[6] << 16) | ((unsigned int)c[7] << 24);
                *reinterpret_cast<uint2*>(codes + i0) = raw;
            }
            else
#pragma unroll
                for (int e = 0; e < OPTDSL_Q8_LANES; e++) if (i0 + e < end) codes[i0 + e] = c[e];
            if ((threadIdx.x & 31) == 0)
                ((float*)meta.ptr[2 + OPTDSL_STATES + k][t])[i0 / OPTDSL_QBLOCK] = (flags & 2) ? optdsl_nan() : (isSigned ? -m : m);
        }
    }
}
#endif
