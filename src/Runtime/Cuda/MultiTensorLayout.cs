using System;
using System.Globalization;

namespace OptDsl.Runtime.Cuda;

/// <summary>
/// The multi-tensor kernel around a declaration's element body, and the byte layout of its launch metadata:
/// each launch covers up to <see cref="MaxBlocks"/> chunks of <see cref="ChunkElements"/> elements from up to
/// <see cref="MaxTensors"/> tensors, described by a struct passed by value, so a step costs few launches and no
/// host-device copy. Kernel parameters may take 4 KB everywhere (320 chunks a launch, as PyTorch's fused
/// optimizers) and 32 KB on CUDA 12.1+ with compute capability 7.0+ (4096 chunks: 268M elements a launch).
/// </summary>
internal sealed class MultiTensorLayout
{
    public const int Threads = 512;
    public const int ChunkElements = 65536;

    public MultiTensorLayout(CudaKernel kernel, bool largeParameters = false)
    {
        States = kernel.StateCount;
        Depth = 2 + States;
        ScalarSlots = Math.Max(1, kernel.ScalarCount);
        int parameterBytes = largeParameters ? 32764 : 4096;
        MaxBlocks = largeParameters ? 4096 : 320;
        int fixedBytes = MaxBlocks * 4 + MaxBlocks + 4 * ScalarSlots + 16;
        MaxTensors = Math.Min(largeParameters ? 255 : 110, (parameterBytes - fixedBytes) / (8 * (Depth + 1)));
        if (MaxTensors < 1)
            throw new InvalidOperationException($"{kernel.Name}: {States} states and {kernel.ScalarCount} scalars do not fit a CUDA launch's parameters.");
        NumelOffset = 8 * Depth * MaxTensors;
        ChunkOffset = NumelOffset + 8 * MaxTensors;
        TensorOffset = ChunkOffset + 4 * MaxBlocks;
        MetaBytes = (TensorOffset + MaxBlocks + 7) / 8 * 8;
        Source = Compose(kernel);
    }

    public int MaxBlocks { get; }
    public int States { get; }
    public int Depth { get; }
    public int ScalarSlots { get; }
    public int MaxTensors { get; }
    public int NumelOffset { get; }
    public int ChunkOffset { get; }
    public int TensorOffset { get; }
    public int MetaBytes { get; }
    public string Source { get; }

    string Compose(CudaKernel kernel) => string.Format(CultureInfo.InvariantCulture, Frame,
        States, Depth, ScalarSlots, MaxTensors, MaxBlocks, ChunkElements, Threads, kernel.Body);

    // {0} states, {1} depth, {2} scalar slots, {3} max tensors, {4} max blocks, {5} chunk, {6} threads, {7} body.
    const string Frame = """
        // OptDsl multi-tensor update kernel (generated element body inside).
        #define OPTDSL_STATES {0}
        #define OPTDSL_DEPTH {1}
        #define OPTDSL_SCALARS {2}
        #define OPTDSL_MAX_TENSORS {3}
        #define OPTDSL_MAX_BLOCKS {4}
        #define OPTDSL_CHUNK {5}
        #define OPTDSL_THREADS {6}
        #define OPTDSL_STATE_SLOTS (OPTDSL_STATES > 0 ? OPTDSL_STATES : 1)

        __device__ __forceinline__ float optdsl_nan() {{ return __int_as_float(0x7fc00000); }}
        // MathF.Min/Max and torch.minimum/maximum propagate NaN; fminf/fmaxf do not.
        __device__ __forceinline__ float optdsl_min(float a, float b) {{ return (a != a || b != b) ? optdsl_nan() : fminf(a, b); }}
        __device__ __forceinline__ float optdsl_max(float a, float b) {{ return (a != a || b != b) ? optdsl_nan() : fmaxf(a, b); }}
        __device__ __forceinline__ float optdsl_sign(float x) {{ return (float)((x > 0.f) - (x < 0.f)); }}
        __device__ __forceinline__ float optdsl_sigmoid(float x) {{ return 1.f / (1.f + expf(-x)); }}
        __device__ __forceinline__ float optdsl_clamp(float x, float lo, float hi) {{ return optdsl_min(optdsl_max(x, lo), hi); }}
        __device__ __forceinline__ float optdsl_lerp(float a, float b, float w) {{ return a + w * (b - a); }}

        {7}

        struct OptDslMeta
        {{
            float* ptr[OPTDSL_DEPTH][OPTDSL_MAX_TENSORS];
            long long numel[OPTDSL_MAX_TENSORS];
            int chunk[OPTDSL_MAX_BLOCKS];
            unsigned char tensor[OPTDSL_MAX_BLOCKS];
        }};

        struct OptDslScalars {{ float v[OPTDSL_SCALARS]; }};

        __device__ __forceinline__ void optdsl_element(float* __restrict__ p, const float* __restrict__ g, float** st, long long i, const float* s)
        {{
            float pv = p[i];
            float sv[OPTDSL_STATE_SLOTS];
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) sv[k] = st[k] ? st[k][i] : 0.f;
            optdsl_body(pv, g[i], sv, s);
            p[i] = pv;
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) if (st[k]) st[k][i] = sv[k];
        }}

        #define OPTDSL_LANE(c) {{ \
            float sl[OPTDSL_STATE_SLOTS]; \
            _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = sv[k].c; \
            optdsl_body(pv.c, gv.c, sl, sc.v); \
            _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sv[k].c = sl[k]; }}

        extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc)
        {{
            const int t = meta.tensor[blockIdx.x];
            const long long n = meta.numel[t];
            const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
            const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
            float* p = meta.ptr[0][t];
            const float* g = meta.ptr[1][t];
            float* st[OPTDSL_STATE_SLOTS];
            bool aligned = (((unsigned long long)p | (unsigned long long)g) & 15) == 0;
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
            {{
                st[k] = meta.ptr[2 + k][t];
                aligned = aligned && (((unsigned long long)st[k] & 15) == 0);
            }}
            long long scalarFrom = start;
            if (aligned)
            {{
                // Chunks start at multiples of 4 elements: 16-byte loads for every whole vector, a scalar tail after.
                for (long long i = start + 4LL * threadIdx.x; i + 3 < end; i += 4LL * OPTDSL_THREADS)
                {{
                    float4 pv = *reinterpret_cast<float4*>(p + i);
                    float4 gv = *reinterpret_cast<const float4*>(g + i);
                    float4 sv[OPTDSL_STATE_SLOTS];
        #pragma unroll
                    for (int k = 0; k < OPTDSL_STATES; k++)
                        sv[k] = st[k] ? *reinterpret_cast<float4*>(st[k] + i) : make_float4(0.f, 0.f, 0.f, 0.f);
                    OPTDSL_LANE(x) OPTDSL_LANE(y) OPTDSL_LANE(z) OPTDSL_LANE(w)
                    *reinterpret_cast<float4*>(p + i) = pv;
        #pragma unroll
                    for (int k = 0; k < OPTDSL_STATES; k++)
                        if (st[k]) *reinterpret_cast<float4*>(st[k] + i) = sv[k];
                }}
                scalarFrom = start + ((end - start) & ~3LL);
            }}
            for (long long i = scalarFrom + threadIdx.x; i < end; i += OPTDSL_THREADS)
                optdsl_element(p, g, st, i, sc.v);
        }}
        """;
}
