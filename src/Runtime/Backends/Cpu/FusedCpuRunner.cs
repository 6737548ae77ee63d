using System;
using System.Threading.Tasks;
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
    }

    Work[] _work = new Work[64];
    int _count;
    CpuUpdate? _update;
    readonly Action<int> _run;

    public FusedCpuRunner() => _run = RunOne;

    /// <summary>Whether the CPU update can take this tensor: float32 and contiguous on the CPU.</summary>
    public static bool Accepts(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    public string Report => $"CPU: {System.Numerics.Vector<float>.Count}-lane vectors, chunks of {ChunkElements} elements over {Environment.ProcessorCount} cores";

    /// <summary>Queues one parameter, cut into chunks, with its state tensors (null where absent) and host scalars.</summary>
    public void Add(Tensor p, Tensor g, Tensor?[] states, float[] scalars)
    {
        long n = p.NumberOfElements;
        if (n == 0) return;
        var addresses = StateAddresses(states.Length);
        for (int i = 0; i < addresses.Length; i++) addresses[i] = states[i] is { } t ? TensorAddress.Of(t) : IntPtr.Zero;
        var (parameter, gradient) = (TensorAddress.Of(p), TensorAddress.Of(g));
        for (long offset = 0; offset < n; offset += ChunkElements)
        {
            if (_count == _work.Length) Array.Resize(ref _work, _work.Length * 2);
            _work[_count++] = new Work
            {
                Parameter = parameter, Gradient = gradient, States = addresses, Offset = offset,
                Length = (int)Math.Min(ChunkElements, n - offset), Scalars = scalars,
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

    /// <summary>Empties the queue without running it.</summary>
    public void Clear()
    {
        _count = 0;
        _parameters = 0;
        _update = null;
    }

    void RunOne(int i)
    {
        ref var w = ref _work[i];
        _update!(new CpuChunk((float*)w.Parameter, (float*)w.Gradient, w.States, w.Offset, w.Length), w.Scalars);
    }
}
