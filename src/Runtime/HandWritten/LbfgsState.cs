using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services;
using OptDsl.Runtime.Services.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// What <see cref="Lbfgs"/> keeps between steps, for all its parameters at once (torch.optim.LBFGS keeps the same under
/// its first parameter): the keys of PyTorch's state, each below with its name there. Vectors are the parameters
/// flattened and concatenated in order, in their dtype; the curvature pairs run oldest first.
/// </summary>
public sealed class LbfgsState : OptimizerState, IDisposable
{
    readonly long _length;
    readonly ScalarType _type;
    readonly List<Tensor> _differences = new(), _steps = new(), _rho = new();

    internal LbfgsState(Parameter first, long length, ScalarType type) : base(first) => (_length, _type) = (length, type);

    /// <summary>The elements of all the parameters together: the length of every vector kept.</summary>
    internal long Length => _length;

    /// <summary>The parameters' dtype, every tensor's.</summary>
    internal ScalarType Type => _type;

    /// <summary>Closure evaluations over all steps (<c>func_evals</c>).</summary>
    public long FunctionEvaluations { get; internal set; }

    /// <summary>Iterations over all steps (<c>n_iter</c>); the history starts afresh at the first.</summary>
    public long Iterations { get; internal set; }

    /// <summary>The last search direction (<c>d</c>), null before the first iteration.</summary>
    public Tensor? Direction { get; private set; }

    /// <summary>The last step length along <see cref="Direction"/> (<c>t</c>), null before the first iteration.</summary>
    public double? StepLength { get; internal set; }

    /// <summary>The gradient at the start of the last iteration (<c>prev_flat_grad</c>).</summary>
    public Tensor? PreviousGradient { get; private set; }

    /// <summary>The loss at the start of the last iteration (<c>prev_loss</c>).</summary>
    public double? PreviousLoss { get; internal set; }

    /// <summary>The initial inverse Hessian's scale, <c>sᵀy / yᵀy</c> of the newest pair or 1 (<c>H_diag</c>), a 0-d tensor.</summary>
    public Tensor? HessianDiagonal { get; private set; }

    /// <summary>The gradient differences y of the kept pairs, oldest first (<c>old_dirs</c>).</summary>
    public IReadOnlyList<Tensor> GradientDifferences => _differences;

    /// <summary>The steps s of the kept pairs, oldest first (<c>old_stps</c>).</summary>
    public IReadOnlyList<Tensor> Steps => _steps;

    /// <summary><c>1 / yᵀs</c> of the kept pairs, 0-d tensors (<c>ro</c>).</summary>
    public IReadOnlyList<Tensor> Rho => _rho;

    /// <summary>Bytes of the state tensors held now: the direction, the previous gradient and the pairs.</summary>
    public long Bytes => All().Sum(t => StateMemory.Bytes(t));

    IEnumerable<Tensor> All() =>
        new[] { Direction, PreviousGradient, HessianDiagonal }.OfType<Tensor>().Concat(_differences).Concat(_steps).Concat(_rho);

    /// <summary>The first iteration's direction, <c>−g</c>, with the history emptied and the scale 1.</summary>
    internal void Restart(Tensor direction)
    {
        ClearHistory();
        Direction = Keep(Direction, direction);
        HessianDiagonal = Keep(HessianDiagonal, ones(Array.Empty<long>(), _type, direction.device));
    }

    internal void SetDirection(Tensor direction) => Direction = Keep(Direction, direction);

    /// <summary>Adds the pair (y, s) with its ρ and the new scale, first dropping the oldest so that at most <paramref name="historySize"/> are kept.</summary>
    internal void Remember(Tensor y, Tensor s, Tensor rho, Tensor hessianDiagonal, int historySize)
    {
        // torch.optim drops one when the history is exactly full; dropping down to the size keeps a history that
        // historySize was lowered under within it (the same when the size does not change).
        while (_differences.Count > 0 && _differences.Count >= historySize)
            foreach (var list in new[] { _differences, _steps, _rho })
            {
                list[0].Dispose();
                list.RemoveAt(0);
            }
        _differences.Add(y.DetachFromDisposeScope());
        _steps.Add(s.DetachFromDisposeScope());
        _rho.Add(rho.DetachFromDisposeScope());
        HessianDiagonal = Keep(HessianDiagonal, hessianDiagonal);
    }

    /// <summary>Keeps a copy of <paramref name="gradient"/> as the previous gradient (in place once there is one).</summary>
    internal void KeepGradient(Tensor gradient)
    {
        if (PreviousGradient is null) PreviousGradient = gradient.clone().DetachFromDisposeScope();
        else PreviousGradient.copy_(gradient);
    }

    static Tensor Keep(Tensor? old, Tensor value)
    {
        var kept = value.DetachFromDisposeScope();
        if (old is not null && !ReferenceEquals(old, kept)) old.Dispose();
        return kept;
    }

    void ClearHistory()
    {
        foreach (var t in _differences.Concat(_steps).Concat(_rho)) t.Dispose();
        _differences.Clear();
        _steps.Clear();
        _rho.Clear();
    }

    void Clear()
    {
        ClearHistory();
        foreach (var t in new[] { Direction, PreviousGradient, HessianDiagonal }) t?.Dispose();
        (Direction, PreviousGradient, HessianDiagonal) = (null, null, null);
        (FunctionEvaluations, Iterations, StepLength, PreviousLoss) = (0, 0, null, null);
    }

    /// <inheritdoc/>
    public override void Initialize(OptimizerOptions options) => Clear();

    /// <inheritdoc/>
    public override void to(Device device)
    {
        Tensor Move(Tensor t) => Devices.Same(t.device, device) ? t : t.to(device, disposeAfter: true).DetachFromDisposeScope();
        if (Direction is { } d) Direction = Move(d);
        if (PreviousGradient is { } g) PreviousGradient = Move(g);
        if (HessianDiagonal is { } h) HessianDiagonal = Move(h);
        foreach (var list in new[] { _differences, _steps, _rho })
            for (int i = 0; i < list.Count; i++) list[i] = Move(list[i]);
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(FunctionEvaluations);
        writer.Write(Iterations);
        writer.Write(StepLength.HasValue);
        writer.Write(StepLength ?? 0);
        writer.Write(PreviousLoss.HasValue);
        writer.Write(PreviousLoss ?? 0);
        TensorRecord.WriteOptional(writer, Direction);
        TensorRecord.WriteOptional(writer, PreviousGradient);
        TensorRecord.WriteOptional(writer, HessianDiagonal);
        writer.Write(_differences.Count);
        for (int i = 0; i < _differences.Count; i++)
        {
            TensorRecord.Write(writer, _differences[i]);
            TensorRecord.Write(writer, _steps[i]);
            TensorRecord.Write(writer, _rho[i]);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Reads the whole state and checks it against the parameters before replacing anything.</remarks>
    public override void LoadStateDict(BinaryReader reader)
    {
        var staged = new LbfgsState(_parameter, _length, _type);
        try
        {
            staged.FunctionEvaluations = reader.ReadInt64();
            staged.Iterations = reader.ReadInt64();
            bool hasStep = reader.ReadBoolean();
            double step = reader.ReadDouble();
            bool hasLoss = reader.ReadBoolean();
            double loss = reader.ReadDouble();
            (staged.StepLength, staged.PreviousLoss) = (hasStep ? step : null, hasLoss ? loss : null);
            staged.Direction = Read(reader, optional: true);
            staged.PreviousGradient = Read(reader, optional: true);
            staged.HessianDiagonal = Read(reader, optional: true);
            int pairs = reader.ReadInt32();
            if (pairs < 0) throw new InvalidDataException($"{Lbfgs.Name}: corrupt state ({pairs} curvature pairs).");
            for (int i = 0; i < pairs; i++)
            {
                staged._differences.Add(Read(reader, optional: false)!);
                staged._steps.Add(Read(reader, optional: false)!);
                staged._rho.Add(Read(reader, optional: false)!);
            }
            staged.Check();
        }
        catch
        {
            staged.Clear();
            throw;
        }
        TakeFrom(staged);
    }

    Tensor? Read(BinaryReader reader, bool optional)
    {
        var t = optional ? TensorRecord.ReadOptional(reader) : TensorRecord.Read(reader);
        return t?.to(_parameter.device, disposeAfter: true).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>Copies and checks <paramref name="source"/>'s tensors before replacing anything.</remarks>
    public override void LoadStateDict(OptimizerState source)
    {
        var staged = Copy(source);
        TakeFrom(staged);
    }

    /// <summary>A checked copy of <paramref name="source"/> for these parameters; throws, having kept nothing, where it does not fit.</summary>
    internal LbfgsState Copy(OptimizerState source)
    {
        if (source is not LbfgsState o) throw new ArgumentException($"{Lbfgs.Name}: cannot load state of {source?.GetType().Name ?? "null"}.");
        Tensor CopyOf(Tensor t) => t.to(_parameter.device, copy: true).DetachFromDisposeScope();
        var staged = new LbfgsState(_parameter, _length, _type)
        {
            FunctionEvaluations = o.FunctionEvaluations, Iterations = o.Iterations, StepLength = o.StepLength, PreviousLoss = o.PreviousLoss,
            Direction = o.Direction is { } d ? CopyOf(d) : null, PreviousGradient = o.PreviousGradient is { } g ? CopyOf(g) : null,
            HessianDiagonal = o.HessianDiagonal is { } h ? CopyOf(h) : null,
        };
        staged._differences.AddRange(o._differences.Select(CopyOf));
        staged._steps.AddRange(o._steps.Select(CopyOf));
        staged._rho.AddRange(o._rho.Select(CopyOf));
        try
        {
            staged.Check();
        }
        catch
        {
            staged.Clear();
            throw;
        }
        return staged;
    }

    /// <summary>Takes <paramref name="staged"/>'s contents (checked), freeing what this held; <paramref name="staged"/> is left empty.</summary>
    internal void TakeFrom(LbfgsState staged)
    {
        Clear();
        (FunctionEvaluations, Iterations, StepLength, PreviousLoss) = (staged.FunctionEvaluations, staged.Iterations, staged.StepLength, staged.PreviousLoss);
        (Direction, PreviousGradient, HessianDiagonal) = (staged.Direction, staged.PreviousGradient, staged.HessianDiagonal);
        _differences.AddRange(staged._differences);
        _steps.AddRange(staged._steps);
        _rho.AddRange(staged._rho);
        (staged.Direction, staged.PreviousGradient, staged.HessianDiagonal) = (null, null, null);
        staged._differences.Clear();
        staged._steps.Clear();
        staged._rho.Clear();
    }

    /// <summary>Throws <see cref="InvalidDataException"/> where the state cannot be these parameters' L-BFGS state.</summary>
    void Check()
    {
        string Corrupt(string what) => $"{Lbfgs.Name}: corrupt state ({what}).";
        if (FunctionEvaluations < 0 || Iterations < 0)
            throw new InvalidDataException(Corrupt($"{FunctionEvaluations} evaluations, {Iterations} iterations"));
        if (StepLength is { } t && !double.IsFinite(t)) throw new InvalidDataException(Corrupt($"step length {t}"));
        void Fits(Tensor? x, string name, bool vector)
        {
            if (x is null) return;
            var shape = vector ? new[] { _length } : Array.Empty<long>();
            if (!x.shape.SequenceEqual(shape) || x.dtype != _type)
                throw new InvalidDataException(
                    $"{Lbfgs.Name}: state '{name}' is [{string.Join(", ", x.shape)}] of {x.dtype}; parameters of {_length} {_type} elements in all need " +
                    $"[{string.Join(", ", shape)}] of {_type}.");
        }
        Fits(Direction, "d", vector: true);
        Fits(PreviousGradient, "prev_flat_grad", vector: true);
        Fits(HessianDiagonal, "H_diag", vector: false);
        for (int i = 0; i < _differences.Count; i++)
        {
            Fits(_differences[i], $"old_dirs[{i}]", vector: true);
            Fits(_steps[i], $"old_stps[{i}]", vector: true);
            Fits(_rho[i], $"ro[{i}]", vector: false);
        }
        bool started = Iterations > 0;
        bool complete = Direction is not null && PreviousGradient is not null && HessianDiagonal is not null && StepLength is not null && PreviousLoss is not null;
        bool empty = Direction is null && PreviousGradient is null && HessianDiagonal is null && StepLength is null && PreviousLoss is null && _differences.Count == 0;
        if (started ? !complete : !empty)
            throw new InvalidDataException(Corrupt(started ? $"iteration {Iterations} without all of d, t, H_diag, prev_flat_grad and prev_loss" : "values before the first iteration"));
    }

    /// <inheritdoc/>
    public override bool ApproximatelyEquals(OptimizerState other)
    {
        if (other is not LbfgsState o || o.FunctionEvaluations != FunctionEvaluations || o.Iterations != Iterations || o.StepLength != StepLength
            || o.PreviousLoss != PreviousLoss || o._differences.Count != _differences.Count)
            return false;
        static bool Close(Tensor? a, Tensor? b) => a is null ? b is null : b is not null && a.allclose(b);
        return Close(Direction, o.Direction) && Close(PreviousGradient, o.PreviousGradient) && Close(HessianDiagonal, o.HessianDiagonal)
            && Enumerable.Range(0, _differences.Count).All(i => Close(_differences[i], o._differences[i]) && Close(_steps[i], o._steps[i]) && Close(_rho[i], o._rho[i]));
    }

    /// <summary>Frees the state tensors.</summary>
    public void Dispose()
    {
        Clear();
        GC.SuppressFinalize(this);
    }
}
