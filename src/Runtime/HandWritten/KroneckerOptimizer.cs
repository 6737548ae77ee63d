using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// What Kronecker-factored optimizers (<see cref="Soap"/>, <see cref="Shampoo"/>) share: each parameter seen as a matrix
/// (its first dimension by the rest; a vector as one row, never rotated), per-parameter state of named tensors shaped
/// by the matrix view (m×n moments, m×m and n×n factors), options, checks before anything changes, and
/// <c>state_dict</c>. They are TorchSharp optimizers written by hand, not declarations: their state is matrix-shaped,
/// which the DSL does not express.
/// </summary>
public abstract class KroneckerOptimizer : OptimizerHelper, IStateMemory
{
    static KroneckerOptimizer() => TorchSharpNative.EnsureLoadable();

    readonly string _name;
    readonly string[] _stateNames;
    readonly bool[] _leftSquare, _rightSquare;

    /// <param name="name">The method's name in messages.</param>
    /// <param name="groups">The parameter groups.</param>
    /// <param name="defaults">What a group leaves unset.</param>
    /// <param name="stateNames">The state tensors' names, in slot order.</param>
    /// <param name="leftSquare">For each slot: m×m (a left factor) instead of m×n.</param>
    /// <param name="rightSquare">For each slot: n×n (a right factor).</param>
    private protected KroneckerOptimizer(string name, IEnumerable<ParamGroup<KroneckerOptions>> groups, KroneckerOptions defaults,
        string[] stateNames, bool[] leftSquare, bool[] rightSquare)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(defaults);
        (_name, _stateNames, _leftSquare, _rightSquare) = (name, stateNames, leftSquare, rightSquare);
        defaults.Validate(name, "the defaults");
        _defaults = defaults;
        _parameter_groups = new List<ParamGroup>();
        foreach (var g in groups) add_param_group(g);
    }

    /// <inheritdoc/>
    /// <remarks>Before a parameter's first step: its moments, and the factors and bases of the sides it preconditions.</remarks>
    public long StateBytes
    {
        get
        {
            long bytes = 0;
            foreach (var group in _parameter_groups)
            {
                var o = (KroneckerOptions)group.Options;
                foreach (var p in group.Parameters)
                {
                    var s = (KroneckerState)_state[p.Handle];
                    var type = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
                    for (int i = 0; i < _stateNames.Length; i++)
                        bytes += s.Tensors[i] is { } t ? StateMemory.Bytes(t) : SlotShape(p, i, o) is { } shape ? StateMemory.Bytes(shape, type) : 0;
                }
            }
            return bytes;
        }
    }

    /// <summary>The state of <paramref name="parameter"/>.</summary>
    public KroneckerState StateOf(Parameter parameter) =>
        _state.TryGetValue(parameter.Handle, out var s) ? (KroneckerState)s : throw new ArgumentException($"{_name}: the parameter is not in any group.", nameof(parameter));

    /// <summary>The matrix a parameter is seen as: its first dimension by the rest (a vector or scalar: one row).</summary>
    internal static (long Rows, long Columns) MatrixShape(Tensor p) =>
        p.dim() >= 2 ? (p.shape[0], p.NumberOfElements / p.shape[0]) : (1, Math.Max(1, p.NumberOfElements));

    /// <summary>Eigenvalues (descending) and eigenvectors as columns in that order, of a symmetric matrix.</summary>
    internal static (Tensor Values, Tensor Vectors) Eigen(Tensor symmetric)
    {
        var (values, vectors) = linalg.eigh(symmetric);
        return (values.flip(0).contiguous(), vectors.flip(1).contiguous());
    }

    /// <summary>
    /// The shape of state slot <paramref name="slot"/> for <paramref name="p"/> under <paramref name="o"/>, or null where the
    /// slot is not used (a side not preconditioned): by default m×n, or m×m / n×n for the factors' slots.
    /// </summary>
    private protected virtual long[]? SlotShape(Parameter p, int slot, KroneckerOptions o)
    {
        var (m, n) = MatrixShape(p);
        bool matrix = p.dim() >= 2;
        if (_leftSquare[slot]) return matrix && m <= o.MaxPreconditionDim ? new[] { m, m } : null;
        if (_rightSquare[slot]) return matrix && n <= o.MaxPreconditionDim ? new[] { n, n } : null;
        return new[] { m, n };
    }

    /// <summary>The options of the group holding <paramref name="p"/>.</summary>
    internal KroneckerOptions OptionsOf(Parameter p)
    {
        foreach (var group in _parameter_groups)
            foreach (var q in group.Parameters)
                if (q.Handle == p.Handle) return (KroneckerOptions)group.Options;
        return (KroneckerOptions)_defaults;
    }

    internal long[]? ShapeOf(Parameter p, int slot) => SlotShape(p, slot, OptionsOf(p));

    /// <inheritdoc/>
    public override void add_param_group(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var options = group.Options as KroneckerOptions ?? (group.Options is null ? new KroneckerOptions() :
            throw new ArgumentException($"{_name}: a group's options are {group.Options.GetType().Name}; expected KroneckerOptions."));
        options.FillFrom((KroneckerOptions)_defaults);
        options.Validate(_name, $"parameter group {_parameter_groups.Count}");
        var parameters = group.Parameters?.ToList() ?? throw new ArgumentException($"{_name}: a parameter group has no parameters.");
        foreach (var p in parameters)
        {
            if (p is null || !p.is_floating_point()) throw new ArgumentException($"{_name} updates floating-point parameters only.");
            if (_state.ContainsKey(p.Handle)) throw new ArgumentException($"{_name}: a parameter appears more than once among the groups.");
        }
        group.Options = options;
        group.Parameters = parameters;
        _parameter_groups.Add(group);
        foreach (var p in parameters) _state[p.Handle] = new KroneckerState(p, _name, _stateNames, ShapeOf);
    }

    /// <inheritdoc/>
    /// <remarks>Every group's options and every gradient (shape, finiteness) are checked before anything changes.</remarks>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null) using (enable_grad()) loss = closure();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var work = StepChecks.Work<KroneckerOptions>(_name, _parameter_groups, (o, where) => o.Validate(_name, where));
        foreach (var (p, o) in work)
        {
            using var inner = NewDisposeScope();
            var type = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            var (rows, columns) = MatrixShape(p);
            bool matrix = p.dim() >= 2;
            var state = (KroneckerState)_state[p.Handle];
            state.Step++;
            Update(p, state, o, p.grad!.detach().to(type).reshape(rows, columns), matrix && rows <= o.MaxPreconditionDim, matrix && columns <= o.MaxPreconditionDim);
        }
        return loss!;
    }

    /// <summary>
    /// One parameter's update: <paramref name="g"/> is its gradient as the matrix view (float32, or float64 for float64
    /// parameters); <paramref name="left"/> and <paramref name="right"/> say which sides are preconditioned.
    /// <paramref name="state"/>.Step has been advanced (1 at the first step). Write the parameter in place.
    /// </summary>
    private protected abstract void Update(Parameter p, KroneckerState state, KroneckerOptions options, Tensor g, bool left, bool right);

    /// <summary>Sets a state slot, keeping the tensor beyond the step's dispose scope and freeing the one it replaces.</summary>
    internal static void Keep(KroneckerState s, int slot, Tensor value)
    {
        var old = s.Tensors[slot];
        s.Tensors[slot] = value.contiguous().DetachFromDisposeScope();
        if (old is not null && !ReferenceEquals(old, s.Tensors[slot])) old.Dispose();
    }
}
