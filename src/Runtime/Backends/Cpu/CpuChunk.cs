using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// One contiguous piece of a float32 CPU parameter for the fused CPU update: the parameter's, gradient's and each
/// state's elements over the same index range. State that does not exist (an <c>OnlyIf</c> that is off) is empty.
/// </summary>
public readonly unsafe ref struct CpuChunk
{
    readonly float* _parameter, _gradient;
    readonly IntPtr[] _states;
    readonly IntPtr[]? _matrices;
    readonly int _length;

    internal CpuChunk(float* parameter, float* gradient, IntPtr[] states, long offset, int length, IntPtr[]? matrices = null)
    {
        _parameter = parameter + offset;
        _gradient = gradient + offset;
        _states = states;
        _matrices = matrices;
        Offset = offset;
        _length = length;
    }

    /// <summary>Where the chunk starts in its tensor.</summary>
    public long Offset { get; }

    /// <summary>The parameter's elements.</summary>
    public Span<float> Parameter => new(_parameter, _length);

    /// <summary>The gradient's elements.</summary>
    public ReadOnlySpan<float> Gradient => new(_gradient, _length);

    /// <summary>State <paramref name="index"/>'s elements, or an empty span where the state does not exist.</summary>
    public Span<float> State(int index) =>
        _states[index] == IntPtr.Zero ? Span<float>.Empty : new Span<float>((float*)_states[index] + Offset, _length);

    /// <summary>
    /// The elements of the runtime's matrix <paramref name="index"/> (a rule's matrix call, laid out as the parameter):
    /// the phase that stores the call's argument writes them, later phases read the result there.
    /// </summary>
    public Span<float> Matrix(int index) => new((float*)_matrices![index] + Offset, _length);
}
