using System;
using OptDsl.Runtime.Services.Checkpoints;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// One tensor per parameter kept by a weight stage (slow weights, averages), in the order of the composed optimizer's
/// parameters: float32 for half-precision parameters (as optimizer state is), the parameter's type otherwise.
/// Parameters added to the optimizer later get their copy when first seen.
/// </summary>
sealed class ParameterCopies(string owner) : IDisposable
{
    readonly List<Tensor> _copies = new();

    public int Count => _copies.Count;

    public Tensor this[int index] => _copies[index];

    public IReadOnlyList<Tensor> All => _copies;

    /// <summary>Bytes of the copies.</summary>
    public long Bytes => _copies.Sum(StateMemory.Bytes);

    /// <summary>Copies the parameters that have no copy yet.</summary>
    public void CopyMissing(IReadOnlyList<Parameter> parameters)
    {
        for (int i = _copies.Count; i < parameters.Count; i++) _copies.Add(Copy(parameters[i]));
    }

    /// <summary>Copies parameter <paramref name="index"/> when it is the next one without a copy.</summary>
    public void CopyAt(int index, Parameter parameter)
    {
        if (index != _copies.Count) throw new InvalidOperationException($"{owner}: copies are made in parameter order.");
        _copies.Add(Copy(parameter));
    }

    /// <summary>The parameter in the copies' type (the parameter itself when that is its type).</summary>
    public static Tensor AsCopyType(Parameter p) => p.dtype == CopyType(p.dtype) ? p : p.to(CopyType(p.dtype));

    static ScalarType CopyType(ScalarType parameter) => DeclaredState.StateType(parameter);

    static Tensor Copy(Parameter p)
    {
        using var detached = p.detach();
        return detached.to(CopyType(p.dtype), copy: true).DetachFromDisposeScope();
    }

    /// <summary>Throws when a copy no longer fits its parameter (a parameter was replaced, removed or moved).</summary>
    public void Check(IReadOnlyList<Parameter> parameters)
    {
        if (_copies.Count > parameters.Count)
            throw new InvalidOperationException($"{owner} keeps copies of {_copies.Count} parameters; the optimizer now has {parameters.Count}.");
        for (int i = 0; i < _copies.Count; i++)
        {
            var (c, p) = (_copies[i], parameters[i]);
            if (!c.shape.AsSpan().SequenceEqual(p.shape))
                throw new InvalidOperationException(
                    $"{owner}: its copy of parameter {i} has shape [{string.Join(", ", c.shape)}] but the parameter has [{string.Join(", ", p.shape)}]; was the parameter replaced?");
            if (!c.SameDevice(p))
                throw new InvalidOperationException(
                    $"{owner}: its copy of parameter {i} is on {c.device} but the parameter is on {p.device}; call optimizer.to({p.device}) after moving the model.");
        }
    }

    public void MoveTo(Device device)
    {
        for (int i = 0; i < _copies.Count; i++)
            if (!Devices.Same(_copies[i].device, device)) _copies[i] = _copies[i].to(device, disposeAfter: true).DetachFromDisposeScope();
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(_copies.Count);
        foreach (var c in _copies) TensorRecord.Write(writer, c);
    }

    /// <summary>Reads copies written by <see cref="Write"/>, checked against <paramref name="parameters"/>; changes nothing.</summary>
    public List<Tensor> Read(BinaryReader reader, IReadOnlyList<Parameter> parameters)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > parameters.Count)
            throw new InvalidDataException($"{owner} holds copies of {count} parameters; this optimizer has {parameters.Count}.");
        var loaded = new List<Tensor>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var t = TensorRecord.Read(reader);
                loaded.Add(t);
                var p = parameters[i];
                if (!t.shape.AsSpan().SequenceEqual(p.shape))
                    throw new InvalidDataException(
                        $"{owner}: its copy of parameter {i} has shape [{string.Join(", ", t.shape)}] there and the parameter [{string.Join(", ", p.shape)}] here.");
                if (t.dtype != CopyType(p.dtype))
                    throw new InvalidDataException($"{owner}: its copy of parameter {i} is {t.dtype}; a {p.dtype} parameter keeps {CopyType(p.dtype)}.");
            }
        }
        catch
        {
            foreach (var t in loaded) t.Dispose();
            throw;
        }
        return loaded;
    }

    /// <summary>Puts copies returned by <see cref="Read"/> in place, each on its parameter's device.</summary>
    public void Replace(List<Tensor> loaded, IReadOnlyList<Parameter> parameters)
    {
        Dispose();
        for (int i = 0; i < loaded.Count; i++)
        {
            var t = loaded[i];
            _copies.Add(t.SameDevice(parameters[i]) ? t.DetachFromDisposeScope() : t.to(parameters[i].device, disposeAfter: true).DetachFromDisposeScope());
        }
    }

    public void Dispose()
    {
        foreach (var c in _copies) c.Dispose();
        _copies.Clear();
    }
}
