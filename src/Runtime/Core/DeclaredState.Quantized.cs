using System;
using OptDsl.Runtime.Backends.Quantized;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredState
{
    // The slots kept in 8 bits and their storage; null until the first slot is.
    QuantizedSlots? _quantized;

    /// <summary>The slots kept in 8 bits between steps, or null for none (what the backends read).</summary>
    internal QuantizedSlots? Quantized => _quantized;

    /// <summary>Whether state slot <paramref name="i"/> is kept in 8 bits between steps.</summary>
    internal bool IsQuantized(int i) => _quantized?.IsKept(i) == true;

    /// <summary>The 8-bit storage of slot <paramref name="i"/> between steps, or null.</summary>
    internal QuantizedTensor? QuantizedSlot(int i) => _quantized?[i];

    /// <summary>Whether any slot is kept in 8 bits.</summary>
    internal bool AnyQuantized => _quantized is { Any: true };

    /// <summary>Keeps slot <paramref name="i"/> in 8 bits from now on (quantizing it now if it exists).</summary>
    internal void Quantize(int i)
    {
        _quantized ??= new QuantizedSlots(Tensors.Length);
        _quantized.Keep(i);
        _checkedStates = null;
        Pack();
    }

    /// <summary>Brings 8-bit slots back to full precision in <see cref="Tensors"/> for a step or a refresh.</summary>
    internal void Unpack() => _quantized?.Unpack(Tensors, StateType(_parameter.dtype));

    /// <summary>Quantizes the full-precision tensors of 8-bit slots and frees them.</summary>
    internal void Pack() => _quantized?.Pack(Tensors);

    /// <summary>Slot <paramref name="i"/> at full precision: the tensor, or the dequantized 8-bit one (a new tensor).</summary>
    internal Tensor? FullPrecision(int i) => Tensors[i] ?? _quantized?.Dequantized(i, StateType(_parameter.dtype));

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

    void MoveQuantized(Device device) => _quantized?.MoveTo(device);

    void FreeQuantized() => _quantized?.FreeAll();
}
