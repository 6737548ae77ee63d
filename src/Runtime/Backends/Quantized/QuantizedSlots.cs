using OptDsl.Runtime.Services;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Quantized;

/// <summary>
/// Which of a parameter's state slots are kept in 8 bits between steps (blockwise absmax, see
/// <see cref="BlockQuantizer"/>), and their 8-bit storage. The fused CUDA kernel reads and writes the codes directly;
/// other paths <see cref="Unpack"/> them into full-precision tensors for the update and <see cref="Pack"/> them after.
/// </summary>
/// <param name="slots">How many state slots the parameter has.</param>
internal sealed class QuantizedSlots(int slots)
{
    readonly bool[] _kept = new bool[slots];
    readonly QuantizedTensor?[] _stored = new QuantizedTensor?[slots];

    /// <summary>Bit k set: slot k is kept in 8 bits (the fused CUDA kernel's variant; slots from 31 on are not counted).</summary>
    public int Mask { get; private set; }

    /// <summary>Whether any slot is kept in 8 bits.</summary>
    public bool Any { get; private set; }

    /// <summary>Whether slot <paramref name="i"/> is kept in 8 bits.</summary>
    public bool IsKept(int i) => _kept[i];

    /// <summary>The 8-bit storage of slot <paramref name="i"/> between steps, or null.</summary>
    public QuantizedTensor? this[int i] => _stored[i];

    /// <summary>Keeps slot <paramref name="i"/> in 8 bits from the next <see cref="Pack"/> on.</summary>
    public void Keep(int i)
    {
        _kept[i] = true;
        Any = true;
        if (i < 31) Mask |= 1 << i;
    }

    /// <summary>Brings the stored slots back to full precision in <paramref name="tensors"/>, in <paramref name="type"/>, for a step or a refresh.</summary>
    public void Unpack(Tensor?[] tensors, ScalarType type)
    {
        for (int i = 0; i < _stored.Length; i++)
        {
            if (_stored[i] is not { } q) continue;
            tensors[i]?.Dispose();
            tensors[i] = BlockQuantizer.Dequantize(q).to(type).DetachFromDisposeScope();
            Free(i);
        }
    }

    /// <summary>Quantizes the full-precision <paramref name="tensors"/> of kept slots into storage and frees them.</summary>
    public void Pack(Tensor?[] tensors)
    {
        for (int i = 0; i < tensors.Length; i++)
        {
            if (!_kept[i] || tensors[i] is not { } t) continue;
            using (var scope = NewDisposeScope())
            {
                var q = BlockQuantizer.Quantize(t);
                Free(i);
                _stored[i] = q with { Codes = q.Codes.DetachFromDisposeScope(), Absmax = q.Absmax.DetachFromDisposeScope() };
            }
            t.Dispose();
            tensors[i] = null;
        }
    }

    /// <summary>Slot <paramref name="i"/>'s stored value dequantized into <paramref name="type"/> (a new tensor), or null.</summary>
    public Tensor? Dequantized(int i, ScalarType type) => _stored[i] is { } q ? BlockQuantizer.Dequantize(q).to(type) : null;

    /// <summary>Moves the storage to <paramref name="device"/>.</summary>
    public void MoveTo(Device device)
    {
        for (int i = 0; i < _stored.Length; i++)
            if (_stored[i] is { } q && !Devices.Same(q.Codes.device, device))
                _stored[i] = q with
                {
                    Codes = q.Codes.to(device, disposeAfter: true).DetachFromDisposeScope(),
                    Absmax = q.Absmax.to(device, disposeAfter: true).DetachFromDisposeScope(),
                };
    }

    /// <summary>Frees slot <paramref name="i"/>'s storage.</summary>
    public void Free(int i)
    {
        if (_stored[i] is not { } q) return;
        q.Codes.Dispose();
        q.Absmax.Dispose();
        _stored[i] = null;
    }

    /// <summary>Frees every slot's storage.</summary>
    public void FreeAll()
    {
        for (int i = 0; i < _stored.Length; i++) Free(i);
    }
}
