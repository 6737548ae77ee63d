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
        _sources = new[] { Compose(kernel, ParamKind.Float32), Compose(kernel, ParamKind.BFloat16), Compose(kernel, ParamKind.Float16) };
    }

    readonly string[] _sources;

    /// <summary>The kernel source for parameters (and gradients) of <paramref name="kind"/>; state is always float32.</summary>
    public string SourceFor(ParamKind kind) => _sources[(int)kind];

    public int MaxBlocks { get; }
    public int States { get; }
    public int Depth { get; }
    public int ScalarSlots { get; }
    public int MaxTensors { get; }
    public int NumelOffset { get; }
    public int ChunkOffset { get; }
    public int TensorOffset { get; }
    public int MetaBytes { get; }
    string Compose(CudaKernel kernel, ParamKind kind) => string.Format(CultureInfo.InvariantCulture, Frame,
        States, Depth, ScalarSlots, MaxTensors, MaxBlocks, ChunkElements, Threads, kernel.Body, (int)kind);

    // {0} states, {1} depth, {2} scalar slots, {3} max tensors, {4} max blocks, {5} chunk, {6} threads, {7} body,
    // {8} parameter kind (0 float32, 1 bfloat16, 2 float16).
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
        #define OPTDSL_PARAM_KIND {8}

        // Parameters and gradients in their own type, all math and state in float32: convert on load, round once on store.
        #if OPTDSL_PARAM_KIND == 0
        typedef float optdsl_param;
        #define OPTDSL_PARAM_ALIGN 15
        __device__ __forceinline__ float optdsl_load(float x) {{ return x; }}
        __device__ __forceinline__ float optdsl_store(float x) {{ return x; }}
        __device__ __forceinline__ float4 optdsl_load4(const float* p) {{ return *reinterpret_cast<const float4*>(p); }}
        __device__ __forceinline__ void optdsl_store4(float* p, float4 v) {{ *reinterpret_cast<float4*>(p) = v; }}
        #else
        typedef unsigned short optdsl_param;
        #define OPTDSL_PARAM_ALIGN 7
        #if OPTDSL_PARAM_KIND == 1
        __device__ __forceinline__ float optdsl_load(unsigned short x) {{ return __uint_as_float(((unsigned int)x) << 16); }}
        __device__ __forceinline__ unsigned short optdsl_store(float x)
        {{
            unsigned int u = __float_as_uint(x);
            if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)0x7fc0;   // NaN stays NaN
            u += 0x7fffu + ((u >> 16) & 1u);                                       // round to nearest even
            return (unsigned short)(u >> 16);
        }}
        #else
        __device__ __forceinline__ float optdsl_load(unsigned short x) {{ float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x)); return f; }}
        __device__ __forceinline__ unsigned short optdsl_store(float x) {{ unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x)); return h; }}
        #endif
        __device__ __forceinline__ float4 optdsl_load4(const unsigned short* p)
        {{
            uint2 u = *reinterpret_cast<const uint2*>(p);
            return make_float4(optdsl_load((unsigned short)(u.x & 0xffffu)), optdsl_load((unsigned short)(u.x >> 16)),
                               optdsl_load((unsigned short)(u.y & 0xffffu)), optdsl_load((unsigned short)(u.y >> 16)));
        }}
        __device__ __forceinline__ void optdsl_store4(unsigned short* p, float4 v)
        {{
            uint2 u;
            u.x = (unsigned int)optdsl_store(v.x) | ((unsigned int)optdsl_store(v.y) << 16);
            u.y = (unsigned int)optdsl_store(v.z) | ((unsigned int)optdsl_store(v.w) << 16);
            *reinterpret_cast<uint2*>(p) = u;
        }}
        #endif

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
            void* ptr[OPTDSL_DEPTH][OPTDSL_MAX_TENSORS];
            long long numel[OPTDSL_MAX_TENSORS];
            int chunk[OPTDSL_MAX_BLOCKS];
            unsigned char tensor[OPTDSL_MAX_BLOCKS];
        }};

        struct OptDslScalars {{ float v[OPTDSL_SCALARS]; }};

        __device__ __forceinline__ void optdsl_element(optdsl_param* __restrict__ p, const optdsl_param* __restrict__ g, float gs, float** st, long long i, const float* s)
        {{
            float pv = optdsl_load(p[i]);
            float sv[OPTDSL_STATE_SLOTS];
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) sv[k] = st[k] ? st[k][i] : 0.f;
            optdsl_body(pv, optdsl_load(g[i]) * gs, sv, s);
            p[i] = optdsl_store(pv);
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++) if (st[k]) st[k][i] = sv[k];
        }}

        #define OPTDSL_LANE(c) {{ \
            float sl[OPTDSL_STATE_SLOTS]; \
            _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sl[k] = sv[k].c; \
            optdsl_body(pv.c, gv.c, sl, sc.v); \
            _Pragma("unroll") for (int k = 0; k < OPTDSL_STATES; k++) sv[k].c = sl[k]; }}

        // gscale: a factor for every gradient, on the device (global-norm clipping's coefficient), or null for none.
        extern "C" __global__ void __launch_bounds__(OPTDSL_THREADS) optdsl_update(const OptDslMeta meta, const OptDslScalars sc, const float* __restrict__ gscale)
        {{
            const float gs = gscale ? *gscale : 1.f;
            const int t = meta.tensor[blockIdx.x];
            const long long n = meta.numel[t];
            const long long start = (long long)meta.chunk[blockIdx.x] * OPTDSL_CHUNK;
            const long long end = start + OPTDSL_CHUNK < n ? start + OPTDSL_CHUNK : n;
            optdsl_param* p = (optdsl_param*)meta.ptr[0][t];
            const optdsl_param* g = (const optdsl_param*)meta.ptr[1][t];
            float* st[OPTDSL_STATE_SLOTS];
            bool aligned = (((unsigned long long)p | (unsigned long long)g) & OPTDSL_PARAM_ALIGN) == 0;
        #pragma unroll
            for (int k = 0; k < OPTDSL_STATES; k++)
            {{
                st[k] = (float*)meta.ptr[2 + k][t];
                aligned = aligned && (((unsigned long long)st[k] & 15) == 0);
            }}
            long long scalarFrom = start;
            if (aligned)
            {{
                // Chunks start at multiples of 4 elements: 16-byte loads for every whole vector, a scalar tail after.
                for (long long i = start + 4LL * threadIdx.x; i + 3 < end; i += 4LL * OPTDSL_THREADS)
                {{
                    float4 pv = optdsl_load4(p + i);
                    float4 gv = optdsl_load4(g + i);
                    gv.x *= gs; gv.y *= gs; gv.z *= gs; gv.w *= gs;
                    float4 sv[OPTDSL_STATE_SLOTS];
        #pragma unroll
                    for (int k = 0; k < OPTDSL_STATES; k++)
                        sv[k] = st[k] ? *reinterpret_cast<float4*>(st[k] + i) : make_float4(0.f, 0.f, 0.f, 0.f);
                    OPTDSL_LANE(x) OPTDSL_LANE(y) OPTDSL_LANE(z) OPTDSL_LANE(w)
                    optdsl_store4(p + i, pv);
        #pragma unroll
                    for (int k = 0; k < OPTDSL_STATES; k++)
                        if (st[k]) *reinterpret_cast<float4*>(st[k] + i) = sv[k];
                }}
                scalarFrom = start + ((end - start) & ~3LL);
            }}
            for (long long i = scalarFrom + threadIdx.x; i < end; i += OPTDSL_THREADS)
                optdsl_element(p, g, gs, st, i, sc.v);
        }}
        """;
}

/// <summary>The parameter (and gradient) types the fused kernel takes; its state is float32 for all of them.</summary>
internal enum ParamKind
{
    Float32,
    BFloat16,
    Float16,
}
