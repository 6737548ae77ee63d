// OptDsl multi-tensor kernel for one phase of a rule with reductions (generated element code inside).
// A template like multi_tensor_update.cu, compiled once per phase. Phase k (before the last) runs the generated
// optdsl_phase<k> over every element, discards its writes, and reduces its accumulators per chunk into the step's
// partials buffer: partials[j * capacity + first[t] + chunk]. Each later phase first combines, per block, the partials
// of its tensor's chunks into the results of earlier phases, in chunk order and a fixed tree (the same bits on every
// run, whatever the launches), then runs the element code with them; the last phase, optdsl_body, writes.
#define OPTDSL_STATES @STATES@
#define OPTDSL_DEPTH @DEPTH@
#define OPTDSL_SCALARS @SCALARS@
#define OPTDSL_MAX_TENSORS @MAX_TENSORS@
#define OPTDSL_MAX_BLOCKS @MAX_BLOCKS@
#define OPTDSL_CHUNK @CHUNK@
#define OPTDSL_THREADS @THREADS@
#define OPTDSL_STATE_SLOTS (OPTDSL_STATES > 0 ? OPTDSL_STATES : 1)
#define OPTDSL_PARAM_KIND @PARAM_KIND@
#define OPTDSL_PHASE @PHASE@
#define OPTDSL_PHASES @PHASES@
#define OPTDSL_REDUCTIONS @REDUCTIONS@
#define OPTDSL_REDUCTION_SLOTS (OPTDSL_REDUCTIONS > 0 ? OPTDSL_REDUCTIONS : 1)
// Matrix calls (Newton-Schulz): phase level(j) stores the argument per element in bf16 at pointer row
// 2 + STATES + j; the runtime orthogonalises the stored matrices; later phases read the result from that row.
#define OPTDSL_MATRICES @MATRICES@
// 1 where the host combines the reductions between phases (over several tensors, or for scalar state): each finished
// value is then at its tensor's first chunk in the partials buffer.
#define OPTDSL_HOST_RESULTS @HOST_RESULTS@

#include "optdsl_params.cuh"
#include "optdsl_intrinsics.cuh"

@BODY@

// Per reduction: how it combines (the runtime's ReductionOp: 0 Sum, 1 Mean, 2 Norm, 3 Rms, 4 Max, 5 Min, 6 MaxAbs,
// 7 Var and 8 Std, which sum squared deviations from a mean of an earlier phase)
// and the phase that accumulates it — switches, so that in unrolled loops they fold to constants.
__device__ __forceinline__ int optdsl_op(int j) { switch (j) { @REDUCTION_OPS@ } return 0; }
__device__ __forceinline__ int optdsl_level(int j) { switch (j) { @REDUCTION_LEVELS@ } return 0; }

__device__ __forceinline__ int optdsl_matrix_level(int j) { switch (j) { @MATRIX_LEVELS@ } return 0; }

#include "optdsl_reduce.cuh"

struct OptDslMeta
{
    void* ptr[OPTDSL_DEPTH][OPTDSL_MAX_TENSORS];
    long long numel[OPTDSL_MAX_TENSORS];
    int first[OPTDSL_MAX_TENSORS];
    int chunk[OPTDSL_MAX_BLOCKS];
    unsigned char tensor[OPTDSL_MAX_BLOCKS];
};

struct OptDslScalars { float v[OPTDSL_SCALARS]; };

#if OPTDSL_MATRICES > 0
// Element e's matrix values: loaded where an earlier phase stored them (the runtime has orthogonalised them since),
// stored where this phase computes the argument. The vector loop moves four elements' bf16 values as one 8-byte
// word (packed in mw), so that a warp reads and writes whole sectors; the tail moves one at a time.
#define OPTDSL_MX , mxv
#define OPTDSL_MATRIX_IN(e) float mxv[OPTDSL_MATRICES]; \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) mxv[j] = optdsl_matrix_level(j) < OPTDSL_PHASE ? optdsl_bf16_load(mt[j][e]) : 0.f;
#define OPTDSL_MATRIX_OUT(e) \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) if (optdsl_matrix_level(j) == OPTDSL_PHASE) mt[j][e] = optdsl_bf16_store(mxv[j]);
#define OPTDSL_MATRIX_LOAD4(e) unsigned short mw[OPTDSL_MATRICES][4]; \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) if (optdsl_matrix_level(j) < OPTDSL_PHASE) \
        *reinterpret_cast<uint2*>(mw[j]) = *reinterpret_cast<const uint2*>(mt[j] + (e));
#define OPTDSL_MATRIX_IN4(o) float mxv[OPTDSL_MATRICES]; \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) mxv[j] = optdsl_matrix_level(j) < OPTDSL_PHASE ? optdsl_bf16_load(mw[j][o]) : 0.f;
#define OPTDSL_MATRIX_OUT4(o) \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) if (optdsl_matrix_level(j) == OPTDSL_PHASE) mw[j][o] = optdsl_bf16_store(mxv[j]);
#define OPTDSL_MATRIX_STORE4(e) \
    _Pragma("unroll") for (int j = 0; j < OPTDSL_MATRICES; j++) if (optdsl_matrix_level(j) == OPTDSL_PHASE) \
        *reinterpret_cast<uint2*>(mt[j] + (e)) = *reinterpret_cast<const uint2*>(mw[j]);
#else
#define OPTDSL_MX
#define OPTDSL_MATRIX_IN(e)
#define OPTDSL_MATRIX_OUT(e)
#define OPTDSL_MATRIX_LOAD4(e)
#define OPTDSL_MATRIX_IN4(o)
#define OPTDSL_MATRIX_OUT4(o)
#define OPTDSL_MATRIX_STORE4(e)
#endif

#if OPTDSL_PHASE < OPTDSL_PHASES
#define OPTDSL_CONCAT2(a, b) a##b
#define OPTDSL_CONCAT(a, b) OPTDSL_CONCAT2(a, b)
// A phase before the last: the element code on copies, accumulating; nothing is stored.
#define OPTDSL_RUN(pv, gv, sl) { float pc = (pv); OPTDSL_CONCAT(optdsl_phase, OPTDSL_PHASE)(pc, (gv), (sl), scv, res, acc OPTDSL_MX); }
#define OPTDSL_STORES 0
#else
#define OPTDSL_RUN(pv, gv, sl) optdsl_body((pv), (gv), (sl), scv, res OPTDSL_MX)
#define OPTDSL_STORES 1
#endif

#define OPTDSL_LANE(c, o) { \
    float sl[OPTDSL_STATE_SLOTS]; \
    _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = sv[k].c; \
    OPTDSL_MATRIX_IN4(o) \
    OPTDSL_RUN(pv.c, gv.c, sl); \
    OPTDSL_MATRIX_OUT4(o) \
    _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sv[k].c = sl[k]; }

extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc,
    const float* __restrict__ gscale, float* __restrict__ partials, const int capacity, const float* __restrict__ tensorScalars)
{
    __shared__ float res[OPTDSL_REDUCTION_SLOTS];
    __shared__ float warps[32];
    const float gs = gscale ? *gscale : 1.f;
    const int t = meta.tensor[blockIdx.x];
    const long long n = meta.numel[t];
    const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
    const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
    const int first = meta.first[t];

    // The results of earlier phases: finished by the host, or combined here from this tensor's partials. Where the host
    // combines them, each tensor's scalars are its own too (at its first chunk of the host's buffer): one launch takes
    // tensors whose scalar state differs.
#if OPTDSL_HOST_RESULTS
    __shared__ float scv[OPTDSL_SCALARS];
    for (int k = threadIdx.x; k < OPTDSL_SCALARS; k += OPTDSL_THREADS) scv[k] = tensorScalars[(long long)first * OPTDSL_SCALARS + k];
    if (threadIdx.x == 0)
    {
#pragma unroll
        for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
            if (optdsl_level(j) < OPTDSL_PHASE) res[j] = partials[(long long)j * capacity + first];
    }
#else
    const int chunks = (int)((n + OPTDSL_CHUNK - 1) / OPTDSL_CHUNK);
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
    {
        if (optdsl_level(j) >= OPTDSL_PHASE) continue;
        const int op = optdsl_op(j);
        float v = optdsl_identity(op);
        for (int c = threadIdx.x; c < chunks; c += OPTDSL_THREADS) v = optdsl_combine(op, v, partials[(long long)j * capacity + first + c]);
        v = optdsl_block_reduce(op, v, warps);
        if (threadIdx.x == 0) res[j] = optdsl_finish(op, v, n);
    }
    const float* const scv = sc.v;
#endif
    __syncthreads();

    float acc[OPTDSL_REDUCTION_SLOTS];
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++) acc[j] = optdsl_identity(optdsl_op(j));

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
#if OPTDSL_MATRICES > 0
    unsigned short* mt[OPTDSL_MATRICES];
    for (int j = 0; j < OPTDSL_MATRICES; j++)
    {
        mt[j] = (unsigned short*)meta.ptr[2 + OPTDSL_STATES + j][t];
        aligned = aligned && (((unsigned long long)mt[j] & 7) == 0);
    }
#endif
    long long scalarFrom = start;
    if (aligned)
    {
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
            OPTDSL_MATRIX_LOAD4(i)
            OPTDSL_LANE(x, 0) OPTDSL_LANE(y, 1) OPTDSL_LANE(z, 2) OPTDSL_LANE(w, 3)
            OPTDSL_MATRIX_STORE4(i)
#if OPTDSL_STORES
            optdsl_put4(p, i, before, pv, r);
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
                if (st[k]) *reinterpret_cast<float4*>(st[k] + i) = sv[k];
#endif
        }
        scalarFrom = start + ((end - start) & ~3LL);
    }
    for (long long i = scalarFrom + threadIdx.x; i < end; i += OPTDSL_THREADS)
    {
        float pv = optdsl_load(p[i]);
        const float before = pv;
        float sl[OPTDSL_STATE_SLOTS];
#pragma unroll
        for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = st[k] ? st[k][i] : 0.f;
        OPTDSL_MATRIX_IN(i)
        OPTDSL_RUN(pv, optdsl_load(g[i]) * gs, sl);
        OPTDSL_MATRIX_OUT(i)
#if OPTDSL_STORES
        optdsl_put(p, i, before, pv, r);
#pragma unroll
        for (int k = 0; k < OPTDSL_STATES; k++) if (st[k]) st[k][i] = sl[k];
#endif
    }

#if !OPTDSL_STORES
    // This chunk's partial of each reduction this phase accumulates.
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
    {
        if (optdsl_level(j) != OPTDSL_PHASE) continue;
        const float v = optdsl_block_reduce(optdsl_op(j), acc[j], warps);
        if (threadIdx.x == 0) partials[(long long)j * capacity + first + meta.chunk[blockIdx.x]] = v;
    }
#endif
}
