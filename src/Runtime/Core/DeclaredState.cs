using System;
using OptDsl.Runtime.Services.Checkpoints;
using System.IO;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

/// <summary>
/// The state of one parameter under a declared optimizer: its step count, one tensor per declared per-element
/// state (shaped and typed like the parameter; null for state whose <c>OnlyIf</c> flag is off) and one double per
/// declared scalar state. The generated <c>State</c> class adds a named accessor for each.
/// </summary>
public abstract partial class DeclaredState : OptimizerState, IDisposable
{
    /// <summary>Creates the state of <paramref name="parameter"/>; <see cref="Initialize"/> allocates it.</summary>
    protected DeclaredState(Parameter parameter) : base(parameter)
    {
        Tensors = new Tensor?[Spec.States.Count];
        Scalars = new double[Spec.ScalarStates.Count];
    }

    /// <summary>The declaration this state belongs to.</summary>
    public abstract OptimizerSpec Spec { get; }

    /// <summary>The parameter this state belongs to.</summary>
    public Parameter Parameter => _parameter;

    /// <summary>Updates taken by this parameter; the update rule sees this as <c>t</c> (1 at the first update).</summary>
    public long Step { get; set; }

    /// <summary>Per-element state, indexed as declared.</summary>
    public Tensor?[] Tensors { get; }

    /// <summary>Per-tensor scalar state, indexed as declared.</summary>
    public double[] Scalars { get; }

    /// <summary>Under Kahan compensation, what rounding took from the half-precision parameter (its type); else null.</summary>
    internal Tensor? Compensation { get; private set; }

    /// <summary>Allocates the compensation buffer (zero) where there is none, or frees it (<paramref name="kept"/> false).</summary>
    internal void Compensate(bool kept)
    {
        if (kept && Compensation is null)
        {
            using var _ = torch.no_grad();
            Compensation = torch.zeros_like(_parameter).DetachFromDisposeScope();
        }
        else if (!kept && Compensation is not null)
        {
            Compensation.Dispose();
            Compensation = null;
        }
    }

    /// <summary>The name the compensation buffer is saved under, after the declared state (no declared name can start with '~').</summary>
    const string CompensationRecord = "~compensation";

    /// <summary>The optimizer's <c>Rounding</c> when the backend was last chosen for this parameter.</summary>
    internal HalfPrecisionRounding CheckedRounding { get; set; }

    /// <summary>The parameter's place among the optimizer's (over every group), as of the last step: stochastic rounding's counter.</summary>
    internal int Ordinal { get; set; }

    /// <summary>The host scalars of this parameter's last fused update (reused each step).</summary>
    internal float[]? FusedScalars { get; set; }

    // The scalar state at the start of the step under way, where the fused host half runs once per phase.
    double[]? _scalarsAtStepStart;

    /// <summary>Remembers the scalar state as it is now, the start of a step whose host half runs once per phase.</summary>
    internal void RememberScalars()
    {
        _scalarsAtStepStart ??= new double[Scalars.Length];
        Array.Copy(Scalars, _scalarsAtStepStart, Scalars.Length);
    }

    /// <summary>Puts back the scalar state <see cref="RememberScalars"/> kept, for the host half to run again from it.</summary>
    internal void RestoreScalars()
    {
        if (_scalarsAtStepStart is { } start) Array.Copy(start, Scalars, Scalars.Length);
    }

    /// <summary>The first of the optimizer's backends that accepted this parameter, its gradient and its state (as last checked).</summary>
    internal int AcceptedBy { get; private set; }

    IntPtr _checkedParameter, _checkedGradient;
    long _checkedNumel = -1;
    ScalarType _checkedDtype;
    Tensor?[]? _checkedStates;

    /// <summary>
    /// Whether <paramref name="g"/> is the gradient checked at an earlier step (same parameter and gradient addresses,
    /// size and type, same state tensors): then the full shape, device and layout checks need not run again.
    /// </summary>
    internal bool IsCheckedFor(Tensor g)
    {
        if (_checkedStates is null || TensorAddress.Of(g) != _checkedGradient || TensorAddress.Of(_parameter) != _checkedParameter) return false;
        if (g.NumberOfElements != _checkedNumel || g.dtype != _checkedDtype) return false;
        for (int i = 0; i < Tensors.Length; i++)
            if (!ReferenceEquals(Tensors[i], _checkedStates[i])) return false;
        return true;
    }

    /// <summary>Remembers a gradient that passed the full checks, with the first backend that accepted it.</summary>
    internal void RememberChecked(Tensor g, int backend)
    {
        (_checkedParameter, _checkedGradient, _checkedNumel, _checkedDtype) = (TensorAddress.Of(_parameter), TensorAddress.Of(g), g.NumberOfElements, g.dtype);
        _checkedStates = (Tensor?[])Tensors.Clone();
        AcceptedBy = backend;
    }

    /// <summary>
    /// Resets the state to its start: step 0, scalar state at its initial values, no tensors. Tensors are allocated
    /// at the parameter's first update (as PyTorch does), from the group's options as they are then.
    /// </summary>
    public override void Initialize(OptimizerOptions options)
    {
        Step = 0;
        for (int i = 0; i < Tensors.Length; i++)
        {
            Tensors[i]?.Dispose();
            Tensors[i] = null;
        }
        FreeQuantized();
        Compensate(false);
        for (int i = 0; i < Scalars.Length; i++) Scalars[i] = Spec.ScalarStates[i].Initial;
    }

    /// <summary>
    /// The dtype of state for a parameter of <paramref name="parameter"/> type: float32 for bfloat16 and float16
    /// parameters (moments kept in half precision lose the small updates that matter), the parameter's own otherwise.
    /// </summary>
    public static ScalarType StateType(ScalarType parameter) => Precision.ComputeType(parameter);

    /// <summary><paramref name="t"/> in <see cref="StateType"/>: float32 for half precision (as sums and norms need), else itself.</summary>
    internal static Tensor InStateType(Tensor t) => Precision.InComputeType(t);

    /// <summary>
    /// Allocates every state tensor the group's options ask for that does not exist yet: all of them at the first
    /// update, and conditional state whose flag has been switched on since.
    /// </summary>
    public void AllocateMissing(DeclaredOptions options)
    {
        for (int i = 0; i < Tensors.Length; i++)
            if (Tensors[i] is null && _quantized?[i] is null && Exists(i, options)) Tensors[i] = Allocate(i, options);
    }

    /// <summary>Bytes of this parameter's state tensors: as allocated, or as they will be under <paramref name="options"/>.</summary>
    internal long StateBytes(DeclaredOptions options)
    {
        long bytes = 0;
        for (int i = 0; i < Tensors.Length; i++)
            bytes += IsQuantized(i) ? (_quantized?[i] is not null || Exists(i, options) ? QuantizedBytes(i) : 0)
                : Tensors[i] is { } t ? StateMemory.Bytes(t)
                : Exists(i, options) ? StateMemory.Bytes(ShapeOf(Spec.States[i]), StateType(_parameter.dtype)) : 0;
        return bytes + (Compensation is { } c ? StateMemory.Bytes(c) : 0);
    }

    bool Exists(int i, DeclaredOptions o) => Spec.States[i].OnlyIfHyper < 0 || o.Value(Spec.States[i].OnlyIfHyper) != 0;

    Tensor Allocate(int i, DeclaredOptions o)
    {
        var s = Spec.States[i];
        double start = s.Init == StateInitKind.Hyper ? o.Value(s.HyperIndex) : s.Constant;
        using var _ = torch.no_grad();
        var dtype = StateType(_parameter.dtype);
        using var startScalar = start.ToScalar();
        var t = torch.full(ShapeOf(s), startScalar, dtype: dtype, device: _parameter.device);
        return t.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public override void to(Device device)
    {
        if (Compensation is { } c && !Devices.Same(c.device, device))
            Compensation = c.to(device, disposeAfter: true).DetachFromDisposeScope();
        for (int i = 0; i < Tensors.Length; i++)
        {
            if (Tensors[i] is not { } t || Devices.Same(t.device, device)) continue;
            Tensors[i] = t.to(device, disposeAfter: true).DetachFromDisposeScope();
        }
        MoveQuantized(device);
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(Step);
        writer.Write(Scalars.Length);
        foreach (var x in Scalars) writer.Write(x);
        writer.Write(Tensors.Length + (Compensation is null ? 0 : 1));
        for (int i = 0; i < Tensors.Length; i++)
        {
            writer.Write(Spec.States[i].Name);
            // 8-bit state is written at full precision: loading quantizes it again to the same codes.
            using var full = Tensors[i] is null ? FullPrecision(i) : null;
            TensorRecord.WriteOptional(writer, Tensors[i] ?? full);
        }
        // Kahan's buffer, as one more record (a checkpoint without one reads as before).
        if (Compensation is not null)
        {
            writer.Write(CompensationRecord);
            TensorRecord.WriteOptional(writer, Compensation);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Reads everything and checks it against this parameter before replacing anything.</remarks>
    public override void LoadStateDict(BinaryReader reader)
    {
        long step = reader.ReadInt64();
        if (step < 0) throw new InvalidDataException($"{Spec.Name}: corrupt checkpoint (step {step}).");
        int scalarCount = reader.ReadInt32();
        if (scalarCount != Scalars.Length)
            throw new InvalidDataException($"{Spec.Name}: the checkpoint holds {scalarCount} scalar states per parameter, this optimizer declares {Scalars.Length}.");
        var scalars = new double[scalarCount];
        for (int i = 0; i < scalarCount; i++) scalars[i] = reader.ReadDouble();
        int tensorCount = reader.ReadInt32();
        if (tensorCount != Tensors.Length && tensorCount != Tensors.Length + 1)
            throw new InvalidDataException($"{Spec.Name}: the checkpoint holds {tensorCount} state tensors per parameter, this optimizer declares {Tensors.Length}.");
        var loaded = new Tensor?[Tensors.Length];
        Tensor? compensation = null;
        try
        {
            for (int i = 0; i < Tensors.Length; i++)
            {
                var name = reader.ReadString();
                if (name != Spec.States[i].Name)
                    throw new InvalidDataException($"{Spec.Name}: the checkpoint's state {i} is '{name}', this optimizer declares '{Spec.States[i].Name}'.");
                if (!reader.ReadBoolean()) continue;
                var t = TensorRecord.Read(reader);
                loaded[i] = t;
                CheckMatchesParameter(Spec.States[i], t);
            }
            if (tensorCount > Tensors.Length)
            {
                var name = reader.ReadString();
                if (name != CompensationRecord)
                    throw new InvalidDataException($"{Spec.Name}: the checkpoint's state {Tensors.Length} is '{name}', past the {Tensors.Length} this optimizer declares.");
                if (reader.ReadBoolean())
                {
                    compensation = TensorRecord.Read(reader);
                    if (!compensation.shape.AsSpan().SequenceEqual(_parameter.shape) || compensation.dtype != _parameter.dtype)
                        throw new InvalidDataException($"{Spec.Name}: the checkpoint's Kahan compensation is {compensation.dtype} [{string.Join(", ", compensation.shape)}]; the parameter is {_parameter.dtype} [{string.Join(", ", _parameter.shape)}].");
                }
            }
        }
        catch
        {
            foreach (var t in loaded) t?.Dispose();
            compensation?.Dispose();
            throw;
        }
        Replace(step, scalars, loaded, compensation);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerState source)
    {
        if (source is not DeclaredState other || other.Spec.Name != Spec.Name)
            throw new ArgumentException($"{Spec.Name}: cannot load state of {source.GetType().Name}.");
        for (int i = 0; i < other.Tensors.Length; i++)
            if (other.FullPrecision(i) is { } t) CheckMatchesParameter(Spec.States[i], t);
        if (other.Compensation is { } c && (!c.shape.AsSpan().SequenceEqual(_parameter.shape) || c.dtype != _parameter.dtype))
            throw new InvalidDataException($"{Spec.Name}: the state's Kahan compensation is {c.dtype} [{string.Join(", ", c.shape)}]; the parameter is {_parameter.dtype} [{string.Join(", ", _parameter.shape)}].");
        var copies = new Tensor?[other.Tensors.Length];
        for (int i = 0; i < copies.Length; i++)
            copies[i] = other.FullPrecision(i)?.to(_parameter.device, copy: true).DetachFromDisposeScope();
        Replace(other.Step, (double[])other.Scalars.Clone(), copies, other.Compensation?.to(_parameter.device, copy: true).DetachFromDisposeScope());
    }

    /// <summary>The shape of state <paramref name="s"/>: the parameter's, or its rows' or columns' broadcasting over it.</summary>
    internal long[] ShapeOf(StateSpec s)
    {
        var shape = (long[])_parameter.shape.Clone();
        if (s.Shape == StateShape.Rows) for (int d = 1; d < shape.Length; d++) shape[d] = 1;
        else if (s.Shape == StateShape.Columns && shape.Length > 0) shape[0] = 1;
        return shape;
    }

    void CheckMatchesParameter(StateSpec spec, Tensor t)
    {
        var (name, expected) = (spec.Name, ShapeOf(spec));
        if (!t.shape.AsSpan().SequenceEqual(expected))
            throw new InvalidDataException(
                $"{Spec.Name}: state '{name}' has shape [{string.Join(", ", t.shape)}]; for a parameter of shape [{string.Join(", ", _parameter.shape)}] it must be [{string.Join(", ", expected)}].");
        if (t.dtype != StateType(_parameter.dtype))
            throw new InvalidDataException($"{Spec.Name}: state '{name}' is {t.dtype}; a {_parameter.dtype} parameter keeps {StateType(_parameter.dtype)} state.");
    }

    void Replace(long step, double[] scalars, Tensor?[] tensors, Tensor? compensation)
    {
        Step = step;
        Compensation?.Dispose();
        Compensation = compensation is not null && !compensation.SameDevice(_parameter)
            ? compensation.to(_parameter.device, disposeAfter: true).DetachFromDisposeScope()
            : compensation?.DetachFromDisposeScope();
        Array.Copy(scalars, Scalars, scalars.Length);
        FreeQuantized();
        for (int i = 0; i < Tensors.Length; i++)
        {
            Tensors[i]?.Dispose();
            Tensors[i] = tensors[i] is { } t && !t.SameDevice(_parameter)
                ? t.to(_parameter.device, disposeAfter: true).DetachFromDisposeScope()
                : tensors[i]?.DetachFromDisposeScope();
        }
        Pack();
    }

    /// <inheritdoc/>
    public override bool ApproximatelyEquals(OptimizerState other)
    {
        if (other is not DeclaredState o || o.Spec.Name != Spec.Name || o.Step != Step) return false;
        for (int i = 0; i < Scalars.Length; i++)
            if (Math.Abs(Scalars[i] - o.Scalars[i]) > 1e-12 * Math.Max(1, Math.Abs(Scalars[i]))) return false;
        for (int i = 0; i < Tensors.Length; i++)
        {
            // FullPrecision hands out the state tensor itself where it is not 8-bit: compare, never dispose, those.
            var (a, b) = (FullPrecision(i), o.FullPrecision(i));
            if (a is null != b is null) return false;
            if (a is not null && !a.allclose(b!)) return false;
        }
        if (Compensation is null != o.Compensation is null) return false;
        return Compensation is null || Compensation.allclose(o.Compensation!);
    }

    /// <summary>Frees the state tensors.</summary>
    public void Dispose()
    {
        for (int i = 0; i < Tensors.Length; i++)
        {
            Tensors[i]?.Dispose();
            Tensors[i] = null;
        }
        FreeQuantized();
        Compensate(false);
        GC.SuppressFinalize(this);
    }
}
