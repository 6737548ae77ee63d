// OptDsl multi-tensor kernel for one phase of a rule with work per row (generated element code inside): reductions
// per row (Matrix.RowMean and kin) and state kept per row, on the matrix view of each tensor (shape[0] rows).
// A block takes a chunk of whole rows and each warp a row at a time: its lanes stride along the row, so a row's values
// (its state, its reductions' results) are one broadcast load and a row's reduction is one warp's, combined by
// shuffles in a fixed tree and finished by lane 0 — the same bits on every run, whatever the launches. Reductions
// over the whole tensor go per chunk into the step's partials as in multi_tensor_phases.cu, which a later phase's
// blocks combine in chunk order. The last phase, optdsl_body, writes: the
// elements, and each row's state from lane 0, which computed it at the row's first element.
#define OPTDSL_STATES @STATES@
#define OPTDSL_DEPTH @DEPTH@
#define OPTDSL_SCALARS @SCALARS@
#define OPTDSL_MAX_TENSORS @MAX_TENSORS@
#define OPTDSL_MAX_BLOCKS @MAX_BLOCKS@
#define OPTDSL_CHUNK @CHUNK@
#define OPTDSL_THREADS @THREADS@
#define OPTDSL_WARPS (OPTDSL_THREADS / 32)
#define OPTDSL_STATE_SLOTS (OPTDSL_STATES > 0 ? OPTDSL_STATES : 1)
#define OPTDSL_PARAM_KIND @PARAM_KIND@
#define OPTDSL_PHASE @PHASE@
#define OPTDSL_PHASES @PHASES@
#define OPTDSL_REDUCTIONS @REDUCTIONS@
#define OPTDSL_REDUCTION_SLOTS (OPTDSL_REDUCTIONS > 0 ? OPTDSL_REDUCTIONS : 1)
#define OPTDSL_MATRICES @MATRICES@

#include "optdsl_params.cuh"
#include "optdsl_intrinsics.cuh"

@BODY@

// Per reduction: how it combines (the runtime's ReductionOp), the phase that accumulates it and whether it has one
// result per row (1) or one for the tensor (0); per state, whether it is kept per row (1) or per element (0).
__device__ __forceinline__ int optdsl_op(int j) { switch (j) { @REDUCTION_OPS@ } return 0; }
__device__ __forceinline__ int optdsl_level(int j) { switch (j) { @REDUCTION_LEVELS@ } return 0; }
__device__ __forceinline__ int optdsl_per_row(int j) { switch (j) { @REDUCTION_PER_ROW@ } return 0; }
__device__ __forceinline__ int optdsl_row_state(int k) { switch (k) { @ROW_STATES@ } return 0; }
__device__ __forceinline__ int optdsl_matrix_level(int j) { switch (j) { @MATRIX_LEVELS@ } return 0; }

#include "optdsl_reduce.cuh"

struct OptDslMeta
{
    void* ptr[OPTDSL_DEPTH][OPTDSL_MAX_TENSORS];
    long long numel[OPTDSL_MAX_TENSORS];
    int first[OPTDSL_MAX_TENSORS];
    // The matrix view: each row's length, the rows a chunk holds, and where the tensor's rows start in the step's
    // buffer of values per row.
    int columns[OPTDSL_MAX_TENSORS];
    int rowsPerChunk[OPTDSL_MAX_TENSORS];
    int rowBase[OPTDSL_MAX_TENSORS];
    int chunk[OPTDSL_MAX_BLOCKS];
    unsigned char tensor[OPTDSL_MAX_BLOCKS];
};

struct OptDslScalars { float v[OPTDSL_SCALARS]; };

#if OPTDSL_PHASE < OPTDSL_PHASES
#define OPTDSL_CONCAT2(a, b) a##b
#define OPTDSL_CONCAT(a, b) OPTDSL_CONCAT2(a, b)
#define OPTDSL_STORES 0
#else
#define OPTDSL_STORES 1
#endif

// The warp's combination of every lane's v in a fixed tree; the value is lane 0's.
__device__ __forceinline__ float optdsl_warp_reduce(int op, float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = optdsl_combine(op, v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc,
    const float* __restrict__ gscale, float* __restrict__ partials, const int capacity, const float* __restrict__ unused,
    float* __restrict__ perRow, const int stepRows)
{
    __shared__ float res[OPTDSL_REDUCTION_SLOTS];
    __shared__ float warps[32];
    const float gs = gscale ? *gscale : 1.f;
    const int t = meta.tensor[blockIdx.x];
    const long long n = meta.numel[t];
    const int columns = meta.columns[t];
    const int rows = (int)(n / columns);
    const int firstRow = meta.chunk[blockIdx.x] * meta.rowsPerChunk[t];
    const int endRow = firstRow + meta.rowsPerChunk[t] < rows ? firstRow + meta.rowsPerChunk[t] : rows;
    const int first = meta.first[t];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

    // The results of earlier phases over the whole tensor, combined here from its partials in chunk order. (Rules
    // whose reductions the host combines do not run row by row on CUDA yet.)
    const int chunks = (rows + meta.rowsPerChunk[t] - 1) / meta.rowsPerChunk[t];
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
    {
        if (optdsl_level(j) >= OPTDSL_PHASE || optdsl_per_row(j)) continue;
        const int op = optdsl_op(j);
        float v = optdsl_identity(op);
        for (int c = threadIdx.x; c < chunks; c += OPTDSL_THREADS) v = optdsl_combine(op, v, partials[(long long)j * capacity + first + c]);
        v = optdsl_block_reduce(op, v, warps);
        if (threadIdx.x == 0) res[j] = optdsl_finish(op, v, n);
    }
    const float* const scv = sc.v;
    __syncthreads();

    // Accumulators over the tensor (the whole chunk) and per row (reset at each row).
    float acc[OPTDSL_REDUCTION_SLOTS];
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++) acc[j] = optdsl_identity(optdsl_op(j));

    optdsl_param* p = (optdsl_param*)meta.ptr[0][t];
    const optdsl_param* g = (const optdsl_param*)meta.ptr[1][t];
    const unsigned long long rw = (unsigned long long)meta.ptr[OPTDSL_DEPTH - 1][t];
    float* st[OPTDSL_STATE_SLOTS];
#pragma unroll
    for (int k = 0; k < OPTDSL_STATES; k++) st[k] = (float*)meta.ptr[2 + k][t];
#if OPTDSL_MATRICES > 0
    unsigned short* mt[OPTDSL_MATRICES];
    for (int j = 0; j < OPTDSL_MATRICES; j++) mt[j] = (unsigned short*)meta.ptr[2 + OPTDSL_STATES + j][t];
#endif
    const int rowBase = meta.rowBase[t];

    for (int row = firstRow + warp; row < endRow; row += OPTDSL_WARPS)
    {
        // The row's values: the results of earlier phases (per row from the step's buffer), its state per row.
        float rl[OPTDSL_REDUCTION_SLOTS];
#pragma unroll
        for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
        {
            rl[j] = optdsl_level(j) < OPTDSL_PHASE ? (optdsl_per_row(j) ? perRow[(long long)j * stepRows + rowBase + row] : res[j]) : 0.f;
            if (optdsl_per_row(j) && optdsl_level(j) == OPTDSL_PHASE) acc[j] = optdsl_identity(optdsl_op(j));
        }
        float rowState[OPTDSL_STATE_SLOTS];
#pragma unroll
        for (int k = 0; k < OPTDSL_STATES; k++) rowState[k] = optdsl_row_state(k) && st[k] ? st[k][row] : 0.f;
        __syncwarp();   // every lane has read the row's state before lane 0 may write it
        const long long base = (long long)row * columns;
        for (int c = lane; c < columns; c += 32)
        {
            const long long i = base + c;
            float pv = optdsl_load(p[i]);
            const float before = pv;
            float sl[OPTDSL_STATE_SLOTS];
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = optdsl_row_state(k) ? rowState[k] : (st[k] ? st[k][i] : 0.f);
#if OPTDSL_MATRICES > 0
            float mxv[OPTDSL_MATRICES];
#pragma unroll
            for (int j = 0; j < OPTDSL_MATRICES; j++) mxv[j] = optdsl_matrix_level(j) < OPTDSL_PHASE ? optdsl_bf16_load(mt[j][i]) : 0.f;
#define OPTDSL_MX , mxv
#else
#define OPTDSL_MX
#endif
#if OPTDSL_STORES
            optdsl_body(pv, optdsl_load(g[i]) * gs, sl, scv, rl OPTDSL_MX);
            optdsl_put(p, i, before, pv, rw);
#pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
            {
                if (!st[k]) continue;
                if (!optdsl_row_state(k)) st[k][i] = sl[k];
                else if (c == 0) st[k][row] = sl[k];   // the row's value, the same at every element: lane 0 writes it
            }
#else
            OPTDSL_CONCAT(optdsl_phase, OPTDSL_PHASE)(pv, optdsl_load(g[i]) * gs, sl, scv, rl, acc OPTDSL_MX);
#endif
#if OPTDSL_MATRICES > 0
#pragma unroll
            for (int j = 0; j < OPTDSL_MATRICES; j++) if (optdsl_matrix_level(j) == OPTDSL_PHASE) mt[j][i] = optdsl_bf16_store(mxv[j]);
#endif
        }
        // The row's reductions, whole in this warp: lane 0 writes each finished.
#pragma unroll
        for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
        {
            if (!optdsl_per_row(j) || optdsl_level(j) != OPTDSL_PHASE) continue;
            const float v = optdsl_warp_reduce(optdsl_op(j), acc[j]);
            if (lane == 0) perRow[(long long)j * stepRows + rowBase + row] = optdsl_finish(optdsl_op(j), v, columns);
        }
    }

#if !OPTDSL_STORES
    // This chunk's partial of each reduction over the tensor this phase accumulates.
#pragma unroll
    for (int j = 0; j < OPTDSL_REDUCTIONS; j++)
    {
        if (optdsl_level(j) != OPTDSL_PHASE || optdsl_per_row(j)) continue;
        const float v = optdsl_block_reduce(optdsl_op(j), acc[j], warps);
        if (threadIdx.x == 0) partials[(long long)j * capacity + first + meta.chunk[blockIdx.x]] = v;
    }
#endif
}
