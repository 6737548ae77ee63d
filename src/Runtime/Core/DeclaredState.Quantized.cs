using System;
using OptDsl.Runtime.Backends.Quantized;
using OptDsl.Runtime.Services;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredState
{
    // Per slot: kept in 8 bits between steps.
    bool[]? _quantizedSlot;
    QuantizedTensor?[]? _quantized;

    /// <summary>Whether state slot <paramref name="i"/> is kept in 8 bits between steps.</summary>
    internal bool IsQuantized(int i) => _quantizedSlot?[i] == true;

    /// <summary>Bit k set: slot k is kept in 8 bits (the fused CUDA kernel's variant).</summary>
    internal int QuantizedMask
    {
        get
        {
            int mask = 0;
            for (int i = 0; _quantizedSlot is not null && i < _quantizedSlot.Length && i < 31; i++)
                if (_quantizedSlot[i]) mask |= 1 << i;
            return mask;
        }
    }

    /// <summary>The 8-bit storage of slot <paramref name="i"/> between steps, or null.</summary>
    internal QuantizedTensor? QuantizedSlot(int i) => _quantized?[i];

    /// <summary>Whether any slot is kept in 8 bits.</summary>
    internal bool AnyQuantized => _quantizedSlot is { } q && Array.Exists(q, s => s);

    /// <summary>Keeps slot <paramref name="i"/> in 8 bits from now on (quantizing it now if it exists).</summary>
    internal void Quantize(int i)
    {
        _quantizedSlot ??= new bool[Tensors.Length];
        _quantized ??= new QuantizedTensor?[Tensors.Length];
        _quantizedSlot[i] = true;
        _checkedStates = null;
        Pack();
    }

    /// <summary>Brings 8-bit slots back to full precision in <see cref="Tensors"/> for a step or a refresh.</summary>
    internal void Unpack()
    {
        if (_quantized is null) return;
        for (int i = 0; i < _quantized.Length; i++)
        {
            if (_quantized[i] is not { } q) continue;
            Tensors[i]?.Dispose();
            Tensors[i] = BlockQuantizer.Dequantize(q).to(StateType(_parameter.dtype)).DetachFromDisposeScope();
            Free(i);
        }
    }

    /// <summary>Quantizes the full-precision tensors of 8-bit slots and frees them.</summary>
    internal void Pack()
    {
        if (_quantizedSlot is null) return;
        for (int i = 0; i < Tensors.Length; i++)
        {
            if (!_quantizedSlot[i] || Tensors[i] is not { } t) continue;
            using (var scope = NewDisposeScope())
            {
                var q = BlockQuantizer.Quantize(t);
                Free(i);
                _quantized![i] = q with { Codes = q.Codes.DetachFromDisposeScope(), Absmax = q.Absmax.DetachFromDisposeScope() };
            }
            t.Dispose();
            Tensors[i] = null;
        }
    }

    /// <summary>Slot <paramref name="i"/> at full precision: the tensor, or the dequantized 8-bit one (a new tensor).</summary>
    internal Tensor? FullPrecision(int i) =>
        Tensors[i] ?? (_quantized?[i] is { } q ? BlockQuantizer.Dequantize(q).to(StateType(_parameter.dtype)) : null);

    /// <summary>The value of state <paramref name="name"/> at full precision (dequantized for 8-bit state), or null when not allocated.</summary>
    public Tensor? Read(string name)
    {
        for (int i = 0; i < Tensors.Length; i++)
            if (Spec.States[i].Name == name) return FullPrecision(i);
        throw new ArgumentException($"{Spec.Name} declares no state '{name}'.", nameof(name));
    }

    /// <summary>Bytes of 8-bit slot <paramref name="i"/> at rest: one byte an element and a float32 scale per block.</summary>
    long QuantizedBytes(int i)
    {
        if (_quantized?[i] is { } q) return q.Bytes;
        long n = StateMemory.Bytes(ShapeOf(Spec.States[i]), ScalarType.Byte);
        return n + 4 * ((n + BlockQuantizer.BlockSize - 1) / BlockQuantizer.BlockSize);
    }

    void MoveQuantized(Device device)
    {
        if (_quantized is null) return;
        for (int i = 0; i < _quantized.Length; i++)
            if (_quantized[i] is { } q && !Devices.Same(q.Codes.device, device))
                _quantized[i] = q with
                {
                    Codes = q.Codes.to(device, disposeAfter: true).DetachFromDisposeScope(),
                    Absmax = q.Absmax.to(device, disposeAfter: true).DetachFromDisposeScope(),
                };
    }

    void Free(int i)
    {
        if (_quantized?[i] is not { } q) return;
        q.Codes.Dispose();
        q.Absmax.Dispose();
        _quantized[i] = null;
    }

    void FreeQuantized()
    {
        if (_quantized is null) return;
        for (int i = 0; i < _quantized.Length; i++) Free(i);
    }
}
