using System;
using System.Collections.Generic;
using OptDsl.Runtime.Services;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>
/// The factor every gradient of the update under way is multiplied by as the update reads it (global-norm clipping's
/// coefficient, handed to the update instead of written into the gradients), with its copies per device, made once a
/// step: float32 and contiguous for a kernel that reads it on the device, else in the type it came in (an in-place
/// multiply rounds it to the gradient's type, as clipping does).
/// </summary>
internal sealed class GradientFactor
{
    Tensor? _value;
    readonly List<(Device Device, bool Float32, Tensor Copy)> _copies = new();

    /// <summary>Whether a factor is set for the update under way.</summary>
    public bool IsSet => _value is not null;

    /// <summary>Sets the factor (a 0-d tensor), keeping a copy of its own: the caller's may belong to its dispose scope.</summary>
    public void Set(Tensor coefficient)
    {
        _value?.Dispose();
        _value = coefficient.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>The factor on <paramref name="device"/>, copied there at the first ask of the step.</summary>
    public Tensor On(Device device, bool float32)
    {
        foreach (var (d, f, copy) in _copies)
            if (f == float32 && Devices.Same(d, device)) return copy;
        var made = (float32 ? _value!.to(ScalarType.Float32) : _value!).to(device).reshape(Array.Empty<long>()).contiguous().DetachFromDisposeScope();
        _copies.Add((device, float32, made));
        return made;
    }

    /// <summary>Frees the factor and its copies: the update is over.</summary>
    public void Clear()
    {
        foreach (var (_, _, copy) in _copies) copy.Dispose();
        _copies.Clear();
        _value?.Dispose();
        _value = null;
    }
}
