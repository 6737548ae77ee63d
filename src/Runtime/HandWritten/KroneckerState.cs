using System;
using OptDsl.Runtime.Services.Checkpoints;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>One parameter's state under a Kronecker-factored optimizer: its step and named tensor slots.</summary>
public sealed class KroneckerState : OptimizerState, IDisposable
{
    readonly string _name;
    readonly string[] _names;
    readonly Func<Parameter, int, long[]?> _shapeOf;
    readonly bool _everySlot;

    /// <param name="parameter">The parameter.</param>
    /// <param name="name">The method's name in messages.</param>
    /// <param name="names">The slots' names.</param>
    /// <param name="shapeOf">The shape a slot must have for a parameter, or null where the slot is not used.</param>
    /// <param name="everySlot">After the first step every used slot is set (a loaded state missing one is refused); otherwise only the first must be.</param>
    internal KroneckerState(Parameter parameter, string name, string[] names, Func<Parameter, int, long[]?> shapeOf, bool everySlot = false) : base(parameter)
    {
        (_name, _names, _shapeOf, _everySlot) = (name, names, shapeOf, everySlot);
        Tensors = new Tensor?[names.Length];
    }

    /// <summary>Steps taken.</summary>
    public long Step { get; internal set; }

    /// <summary>The state tensors by slot (null where not allocated or not used).</summary>
    internal Tensor?[] Tensors { get; }

    /// <summary>The state tensor named <paramref name="name"/>, or null.</summary>
    public Tensor? this[string name] => Array.IndexOf(_names, name) is var i and >= 0 ? Tensors[i] : throw new ArgumentException($"{_name} keeps no state '{name}'.");

    /// <inheritdoc/>
    public override void Initialize(OptimizerOptions options) => Clear();

    void Clear()
    {
        Step = 0;
        for (int i = 0; i < Tensors.Length; i++) { Tensors[i]?.Dispose(); Tensors[i] = null; }
    }

    /// <inheritdoc/>
    public override void to(Device device)
    {
        for (int i = 0; i < Tensors.Length; i++)
            if (Tensors[i] is { } t && !Devices.Same(t.device, device)) Tensors[i] = t.to(device, disposeAfter: true).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(Step);
        for (int i = 0; i < Tensors.Length; i++)
        {
            writer.Write(_names[i]);
            writer.Write(Tensors[i] is not null);
            if (Tensors[i] is { } t) TensorRecord.Write(writer, t);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Reads and checks every tensor against this parameter before replacing anything.</remarks>
    public override void LoadStateDict(BinaryReader reader)
    {
        long step = reader.ReadInt64();
        if (step < 0) throw new InvalidDataException($"{_name}: corrupt state (step {step}).");
        var loaded = new Tensor?[Tensors.Length];
        try
        {
            for (int i = 0; i < loaded.Length; i++)
            {
                var name = reader.ReadString();
                if (name != _names[i]) throw new InvalidDataException($"{_name}: the state's tensor {i} is '{name}', expected '{_names[i]}'.");
                if (reader.ReadBoolean()) loaded[i] = TensorRecord.Read(reader).to(_parameter.device).DetachFromDisposeScope();
            }
            Check(step, loaded);
        }
        catch
        {
            foreach (var t in loaded) t?.Dispose();
            throw;
        }
        Replace(step, loaded);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerState source)
    {
        if (source is not KroneckerState o || o._name != _name) throw new ArgumentException($"{_name}: cannot load state of {source.GetType().Name}.");
        var copies = o.Tensors.Select(t => t?.to(_parameter.device, copy: true).DetachFromDisposeScope()).ToArray();
        Check(o.Step, copies);
        Replace(o.Step, copies);
    }

    void Check(long step, Tensor?[] t)
    {
        for (int i = 0; i < t.Length; i++)
            if (t[i] is { } x && _shapeOf(_parameter, i) is var expected && (expected is null || !x.shape.SequenceEqual(expected)))
                throw new InvalidDataException(
                    $"{_name}: state '{_names[i]}' has shape [{string.Join(", ", x.shape)}]; a parameter of shape [{string.Join(", ", _parameter.shape)}] "
                    + (expected is null ? "keeps no such state." : $"needs [{string.Join(", ", expected)}]."));
        for (int i = 0; i < t.Length; i++)
            if (step > 0 && t[i] is null && (i == 0 || (_everySlot && _shapeOf(_parameter, i) is not null)))
                throw new InvalidDataException($"{_name}: state at step {step} without its '{_names[i]}'.");
    }

    void Replace(long step, Tensor?[] tensors)
    {
        Clear();
        Step = step;
        for (int i = 0; i < tensors.Length; i++) Tensors[i] = tensors[i];
    }

    /// <inheritdoc/>
    public override bool ApproximatelyEquals(OptimizerState other) =>
        other is KroneckerState o && o.Step == Step && Tensors.Zip(o.Tensors).All(p => p.First is null ? p.Second is null : p.Second is not null && p.First.allclose(p.Second));

    /// <summary>Frees the state tensors.</summary>
    public void Dispose()
    {
        Clear();
        GC.SuppressFinalize(this);
    }
}
