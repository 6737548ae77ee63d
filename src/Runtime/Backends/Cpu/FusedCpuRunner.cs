using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using OptDsl.Runtime.Backends.Quantized;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// Runs a declaration's fused CPU update over float32 CPU tensors: every tensor is cut into chunks of
/// <see cref="ChunkElements"/> elements, and the chunks of all tensors run in parallel, each one pass over its memory.
/// </summary>
internal sealed unsafe class FusedCpuRunner
{
    /// <summary>Elements per chunk: large enough to amortise scheduling, small enough to balance two cores.</summary>
    public const int ChunkElements = 32768;

    struct Work
    {
        public IntPtr Parameter, Gradient;
        public IntPtr[] States;
        public long Offset;
        public int Length;
        public float[] Scalars;
        public int Tensor;
        // Its number among its tensor's chunks (a rule with work per row or column cuts tensors into whole rows).
        public int Chunk;
    }

    // Per queued tensor, for a rule with reductions: its size, first chunk, scalars, item and group; with matrix calls,
    // its parameter. Empty tensors are queued too (without chunks): a reduction over the step may set their scalar state.
    long[] _sizes = new long[16];
    int[] _firstChunks = new int[16];
    Tensor[] _parametersQueued = new Tensor[16];
    float[][] _scalarsQueued = new float[16][];
    // Per queued tensor, its state slots kept in 8 bits (null for none): expanded per chunk into scratch, packed after.
    QuantizedSlots?[] _quantizedQueued = new QuantizedSlots?[16];
    int[] _items = new int[16], _groups = new int[16];

    Work[] _work = new Work[64];
    int _count;
    CpuUpdate? _update;
    readonly Action<int> _run;

    public FusedCpuRunner(ReductionPlan? plan = null)
    {
        _run = RunOne;
        if (plan is { RowWise: true }) _rowPlan = plan;
    }

    // A rule with work per row or column: its plan, and each queued tensor's matrix view and buffers.
    readonly ReductionPlan? _rowPlan;
    readonly CpuRows _rows = new();


    /// <summary>Whether the CPU update can take this tensor: float32 and contiguous on the CPU.</summary>
    public static bool Accepts(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    public string Report => $"CPU: {System.Numerics.Vector<float>.Count}-lane vectors, chunks of {ChunkElements} elements over {Environment.ProcessorCount} cores";

    /// <summary>
    /// Queues one parameter, cut into chunks, with its state tensors (null where absent) and host scalars; the step's
    /// item number and parameter group go to the host half and to reductions over a group.
    /// </summary>
    public void Add(Tensor p, Tensor g, Tensor?[] states, float[] scalars, int item = 0, int group = 0, QuantizedSlots? quantized = null)
    {
        long n = p.NumberOfElements;
        var addresses = StateAddresses(states.Length);
        for (int i = 0; i < addresses.Length; i++) addresses[i] = states[i] is { } t ? TensorAddress.Of(t) : IntPtr.Zero;
        var (parameter, gradient) = (TensorAddress.Of(p), TensorAddress.Of(g));
        int tensor = _parameters - 1;
        if (tensor == _sizes.Length)
        {
            Array.Resize(ref _sizes, 2 * _sizes.Length);
            Array.Resize(ref _firstChunks, 2 * _firstChunks.Length);
            Array.Resize(ref _parametersQueued, 2 * _parametersQueued.Length);
            Array.Resize(ref _scalarsQueued, 2 * _scalarsQueued.Length);
            Array.Resize(ref _items, 2 * _items.Length);
            Array.Resize(ref _groups, 2 * _groups.Length);
            Array.Resize(ref _quantizedQueued, 2 * _quantizedQueued.Length);
        }
        _quantizedQueued[tensor] = quantized is { Any: true } ? quantized : null;
        _sizes[tensor] = n;
        _parametersQueued[tensor] = p;
        _scalarsQueued[tensor] = scalars;
        _items[tensor] = item;
        _groups[tensor] = group;
        _firstChunks[tensor] = _count;
        if (_rowPlan is not null)
        {
            QueueRows(tensor, p, n, parameter, gradient, addresses, scalars);
            return;
        }
        for (long offset = 0; offset < n; offset += ChunkElements)
        {
            if (_count == _work.Length) Array.Resize(ref _work, _work.Length * 2);
            _work[_count++] = new Work
            {
                Parameter = parameter, Gradient = gradient, States = addresses, Offset = offset,
                Length = (int)Math.Min(ChunkElements, n - offset), Scalars = scalars, Tensor = tensor,
            };
        }
    }

    /// <summary>Queues a tensor of a rule with work per row or column in chunks of whole rows.</summary>
    void QueueRows(int tensor, Tensor p, long n, IntPtr parameter, IntPtr gradient, IntPtr[] addresses, float[] scalars)
    {
        int rows = (int)p.size(0), columns = (int)(n / rows);
        var layout = _rows[tensor];
        layout.Prepare(_rowPlan!, rows, columns, ChunkElements, addresses);
        for (int chunk = 0; chunk < layout.Chunks; chunk++)
        {
            if (_count == _work.Length) Array.Resize(ref _work, _work.Length * 2);
            long first = (long)chunk * layout.RowsPerChunk;
            _work[_count++] = new Work
            {
                Parameter = parameter, Gradient = gradient, States = addresses, Offset = first * columns,
                Length = (int)(Math.Min(layout.RowsPerChunk, rows - first) * columns), Scalars = scalars, Tensor = tensor, Chunk = chunk,
            };
        }
    }

    // The state addresses of each queued parameter, kept from step to step: no allocation once the first step made them.
    readonly System.Collections.Generic.List<IntPtr[]> _addresses = new();
    int _parameters;

    IntPtr[] StateAddresses(int states)
    {
        if (_parameters == _addresses.Count) _addresses.Add(new IntPtr[states]);
        else if (_addresses[_parameters].Length != states) _addresses[_parameters] = new IntPtr[states];
        return _addresses[_parameters++];
    }

    /// <summary>Runs every queued chunk, in parallel where there is more than one, and empties the queue.</summary>
    public void Run(CpuUpdate update)
    {
        // A one-pass rule queues no empty tensor's chunks, and has nothing else to do for it.
        _update = update;
        try
        {
            if (_count == 1) RunOne(0);
            else if (_count > 1) Parallel.For(0, _count, _run);
        }
        finally
        {
            Clear();
        }
    }

    // A rule with reductions: the phase running, its code, and the partials (per chunk) and results (per tensor) by reduction.
    CpuPhase? _phases;
    int _phase, _phaseCount, _reductions;
    float[] _partials = Array.Empty<float>(), _results = Array.Empty<float>();
    Action<int>? _runPhase;

    /// <summary>
    /// Runs every queued chunk through each phase of a rule with reductions in turn, and empties the queue: after each
    /// phase but the last, each tensor's partials are combined in chunk order (in double) into its results — over the
    /// tensor, or for a reduction over the group or the step over those tensors' chunks in the order queued — so a step
    /// gives the same bits on every run, whatever the number of cores. Where scalar state takes values from reductions,
    /// <paramref name="host"/> then runs the host half of each tensor again with its results.
    /// </summary>
    public void Run(CpuPhase phases, ReductionPlan plan, HostStage? host = null)
    {
        _phases = phases;
        _reductions = plan.Reductions.Length;
        _phaseCount = plan.Phases;
        _runPhase ??= RunPhaseOne;
        try
        {
            if (_partials.Length < _count * _reductions) _partials = new float[Math.Max(_count * _reductions, 2 * _partials.Length)];
            if (_results.Length < _parameters * _reductions) _results = new float[Math.Max(_parameters * _reductions, 2 * _results.Length)];
            // Results not known yet read as 0 (the host half may read them before the phase that computes them).
            Array.Clear(_results, 0, _parameters * _reductions);
            if (plan.Matrices.Length > 0) _matrices.Prepare(_parameters, plan.Matrices.Length, _parametersQueued);
            bool rowWise = _rowPlan is not null;
            if (rowWise) for (int t = 0; t < _parameters; t++) _rows[t].TakeColumnStates();
            for (_phase = 1; _phase <= plan.Phases; _phase++)
            {
                // A phase with nothing to reduce or store this step (its reductions' host conditions all false) is skipped.
                if (_phase < plan.Phases && !AnyNeeds(plan, _phase)) continue;
                if (rowWise) for (int t = 0; t < _parameters; t++) _rows[t].ResetColumnPartials(plan, _phase);
                if (_count == 1) RunPhaseOne(0);
                else if (_count > 1) Parallel.For(0, _count, _runPhase);
                if (_phase == plan.Phases) break;
                if (rowWise) for (int t = 0; t < _parameters; t++) _rows[t].Finish(plan, _phase);
                CombinePartials(plan);
                if (plan.HostReadsResults && host is not null)
                    for (int t = 0; t < _parameters; t++) host(_items[t], new ReadOnlySpan<float>(_results, t * _reductions, _reductions));
                for (int j = 0; j < plan.Matrices.Length; j++)
                    if (plan.Matrices[j].Level == _phase)
                        for (int t = 0; t < _parameters; t++)
                            if (_sizes[t] > 0) _matrices.Orthogonalize(t, j, plan.Matrices[j], _scalarsQueued[t]);
            }
        }
        finally
        {
            _phases = null;
            Clear();
        }
    }

    bool AnyNeeds(ReductionPlan plan, int phase)
    {
        for (int t = 0; t < _parameters; t++) if (plan.Needs(phase, _scalarsQueued[t])) return true;
        return false;
    }

    void RunPhaseOne(int i)
    {
        ref var w = ref _work[i];
        var results = new ReadOnlySpan<float>(_results, w.Tensor * _reductions, _reductions);
        var partials = _phase < _phaseCount ? new Span<float>(_partials, i * _reductions, _reductions) : Span<float>.Empty;
        if (_quantizedQueued[w.Tensor] is { } quantized)
        {
            var expanded = new CpuChunk((float*)w.Parameter, (float*)w.Gradient, Expand(ref w, quantized), w.Offset, w.Length, _matrices.AddressesOf(w.Tensor));
            _phases!(_phase, expanded, w.Scalars, results, partials);
            if (_phase == _phaseCount) PackBack(ref w, quantized);
            return;
        }
        var chunk = _rowPlan is null
            ? new CpuChunk((float*)w.Parameter, (float*)w.Gradient, w.States, w.Offset, w.Length, _matrices.AddressesOf(w.Tensor))
            : new CpuChunk((float*)w.Parameter, (float*)w.Gradient, w.States, w.Offset, w.Length, _matrices.AddressesOf(w.Tensor), _rows[w.Tensor], w.Chunk);
        _phases!(_phase, chunk, w.Scalars, results, partials);
    }

    // Per worker thread: the chunk's 8-bit state slots expanded to float32 (pinned, so its address holds), and the
    // state addresses that point there.
    [ThreadStatic] static float[]? _scratch;
    [ThreadStatic] static IntPtr[]? _expandedStates;

    static float* Scratch(int slot) =>
        (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scratch!)) + (long)slot * ChunkElements;

    /// <summary>
    /// Expands chunk <paramref name="w"/>'s 8-bit state slots into this thread's scratch buffer; returns the state
    /// addresses the chunk reads (the scratch for those slots, the tensors for the others).
    /// </summary>
    static IntPtr[] Expand(ref Work w, QuantizedSlots quantized)
    {
        int slots = w.States.Length;
        if (_scratch is null || _scratch.Length < slots * ChunkElements) _scratch = GC.AllocateUninitializedArray<float>(slots * ChunkElements, pinned: true);
        if (_expandedStates is null || _expandedStates.Length != slots) _expandedStates = new IntPtr[slots];
        var states = _expandedStates;
        for (int k = 0; k < slots; k++)
        {
            states[k] = w.States[k];
            if (!quantized.IsKept(k) || quantized[k] is not { } stored) continue;
            float* into = Scratch(k);
            CpuBlockCodec.Expand(CodesOf(stored, ref w), ScalesOf(stored, ref w), new Span<float>(into, w.Length));
            // The chunk adds its offset to a state's address: this one starts at the scratch.
            states[k] = (IntPtr)(into - w.Offset);
        }
        return states;
    }

    /// <summary>Packs the slots <see cref="Expand"/> expanded back into their codes and block scales, after the pass that stores.</summary>
    static void PackBack(ref Work w, QuantizedSlots quantized)
    {
        for (int k = 0; k < w.States.Length; k++)
            if (quantized.IsKept(k) && quantized[k] is { } stored)
                CpuBlockCodec.Pack(new ReadOnlySpan<float>(Scratch(k), w.Length), CodesOf(stored, ref w), ScalesOf(stored, ref w));
    }

    /// <summary>The chunk's codes.</summary>
    static Span<byte> CodesOf(QuantizedTensor stored, ref Work w) => new((byte*)TensorAddress.Of(stored.Codes) + w.Offset, w.Length);

    /// <summary>The chunk's block scales (a chunk is whole blocks: ChunkElements is a multiple of the block size).</summary>
    static Span<float> ScalesOf(QuantizedTensor stored, ref Work w) =>
        new((float*)TensorAddress.Of(stored.Absmax) + w.Offset / BlockQuantizer.BlockSize, (w.Length + BlockQuantizer.BlockSize - 1) / BlockQuantizer.BlockSize);

    void CombinePartials(ReductionPlan plan) =>
        PartialSums.Finish(plan, _phase, new QueuedPartials(this), _results.AsSpan(0, _parameters * _reductions));

    /// <summary>The queued tensors' chunk partials: chunk c's of reduction j at c · reductions + j.</summary>
    readonly struct QueuedPartials(FusedCpuRunner runner) : IPartialSums
    {
        public int Tensors => runner._parameters;
        public long Size(int tensor) => runner._sizes[tensor];
        public int Group(int tensor) => runner._groups[tensor];
        public int Chunks(int tensor) => (tensor + 1 < runner._parameters ? runner._firstChunks[tensor + 1] : runner._count) - runner._firstChunks[tensor];
        public float Partial(int tensor, int chunk, int reduction) => runner._partials[(runner._firstChunks[tensor] + chunk) * runner._reductions + reduction];
    }

    /// <summary>Empties the queue without running it.</summary>
    public void Clear()
    {
        _count = 0;
        Array.Clear(_parametersQueued, 0, _parameters);
        Array.Clear(_scalarsQueued, 0, _parameters);
        Array.Clear(_quantizedQueued, 0, _parameters);
        _parameters = 0;
        _update = null;
    }

    readonly CpuMatrices _matrices = new();

    void RunOne(int i)
    {
        ref var w = ref _work[i];
        if (_quantizedQueued[w.Tensor] is { } quantized)
        {
            _update!(new CpuChunk((float*)w.Parameter, (float*)w.Gradient, Expand(ref w, quantized), w.Offset, w.Length), w.Scalars);
            PackBack(ref w, quantized);
            return;
        }
        _update!(new CpuChunk((float*)w.Parameter, (float*)w.Gradient, w.States, w.Offset, w.Length), w.Scalars);
    }
}
