using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>Along what a value varies: not at all (host, or one value per tensor), per row, per column, or per element.</summary>
enum Line { Uniform, Row, Column, Element }

/// <summary>
/// Which locals of a rule vary per element, and along what they vary over the parameter's matrix view, followed in
/// program order while the body is translated (the translator needs both at each statement: to type references, and to
/// reject a per-element value where one value per tensor, row or column belongs). Also counts the per-element
/// conditions (if/else and ?:) the statement or expression being translated stands under.
/// </summary>
sealed class LocalFlow
{
    readonly IReadOnlyDictionary<string, StateShapeModel> _stateShapes;
    Dictionary<string, bool> _varying = new();
    HashSet<string> _assigned = new();
    readonly Dictionary<string, Line> _lines = new();
    int _perElementBranches, _perElementSelects;

    public LocalFlow(IReadOnlyDictionary<string, StateShapeModel> stateShapes) => _stateShapes = stateShapes;

    /// <summary>Whether the statement being translated runs under a per-element <c>if</c>.</summary>
    public bool InPerElementBranch => _perElementBranches > 0;

    /// <summary>Whether the expression being translated stands under a per-element <c>if</c> or <c>?:</c> arm.</summary>
    public bool UnderPerElementCondition => _perElementBranches > 0 || _perElementSelects > 0;

    /// <summary>Whether local <paramref name="name"/> holds a per-element value here.</summary>
    public bool IsVarying(string name) => _varying.TryGetValue(name, out var v) && v;

    /// <summary>A local declared with <paramref name="value"/>, or without one (null).</summary>
    public void Declare(string name, Expr? value)
    {
        _varying[name] = (value?.Varying ?? false) || InPerElementBranch;
        _lines[name] = InPerElementBranch ? Line.Element : value is null ? Line.Uniform : LineOf(value);
        if (value is not null) _assigned.Add(name);
    }

    /// <summary>A local assigned <paramref name="value"/>; one assigned in several places takes the widest of its values' lines.</summary>
    public void Assign(string name, Expr value)
    {
        _varying[name] = value.Varying || InPerElementBranch;
        _lines[name] = InPerElementBranch ? Line.Element
            : Combine(_lines.TryGetValue(name, out var before) && _assigned.Contains(name) ? before : Line.Uniform, LineOf(value));
        _assigned.Add(name);
    }

    /// <summary>Starts an if/else; <see cref="Branches.Else"/> and <see cref="Branches.Join"/> follow the translation of its arms.</summary>
    public Branches If(bool perElement) => new(this, perElement);

    /// <summary>Starts a per-element (or host) <c>?:</c> arm; dispose at its end.</summary>
    public System.IDisposable Select(bool perElement)
    {
        if (perElement) _perElementSelects++;
        return new SelectScope(this, perElement);
    }

    sealed class SelectScope(LocalFlow flow, bool perElement) : System.IDisposable
    {
        public void Dispose()
        {
            if (perElement) flow._perElementSelects--;
        }
    }

    /// <summary>The flow through the two arms of an if/else.</summary>
    public sealed class Branches
    {
        readonly LocalFlow _flow;
        readonly bool _perElement;
        readonly Dictionary<string, bool> _before;
        readonly HashSet<string> _assignedBefore;
        Dictionary<string, bool>? _afterThen;

        public Branches(LocalFlow flow, bool perElement)
        {
            (_flow, _perElement) = (flow, perElement);
            _before = new Dictionary<string, bool>(flow._varying);
            _assignedBefore = flow._assigned;
            flow._assigned = new HashSet<string>();
            if (perElement) flow._perElementBranches++;
        }

        public void Else()
        {
            _afterThen = _flow._varying;
            _flow._varying = new Dictionary<string, bool>(_before);
        }

        public void Join()
        {
            var (afterThen, afterElse) = (_afterThen!, _flow._varying);
            if (_perElement) _flow._perElementBranches--;
            // Locals declared inside the arms go out of scope; the others vary if either arm left them varying, or if
            // a per-element condition chose between assignments.
            _flow._varying = _before.Keys.ToDictionary(k => k, k => afterThen[k] || afterElse[k] || (_perElement && _flow._assigned.Contains(k)));
            _flow._assigned.UnionWith(_assignedBefore);
        }
    }

    static Line Combine(Line a, Line b) => a == b ? a : a == Line.Uniform ? b : b == Line.Uniform ? a : Line.Element;

    /// <summary>
    /// How <paramref name="e"/> varies over the parameter's matrix view. A varying (device) value may still be uniform:
    /// a reduction's result is one value for the tensor, and scalar state may take it (read once on the host).
    /// </summary>
    public Line LineOf(Expr e) => e switch
    {
        Reference { Kind: VarKind.Param or VarKind.Grad } => Line.Element,
        Reference { Kind: VarKind.State } r => _stateShapes.TryGetValue(r.Name, out var shape)
            ? shape switch { StateShapeModel.Rows => Line.Row, StateShapeModel.Columns => Line.Column, _ => Line.Element }
            : Line.Element,
        Reference { Kind: VarKind.Local } r => _lines.TryGetValue(r.Name, out var line) ? line : r.Varying ? Line.Element : Line.Uniform,
        Reference => Line.Uniform,
        Unary u => LineOf(u.Operand),
        Convert c => LineOf(c.Operand),
        Binary b => Combine(LineOf(b.Left), LineOf(b.Right)),
        Select s => Combine(LineOf(s.Condition), Combine(LineOf(s.WhenTrue), LineOf(s.WhenFalse))),
        Call c => c.Function.Kind() switch
        {
            Intrinsics.IntrinsicKind.RowReduction => Line.Row,
            Intrinsics.IntrinsicKind.ColumnReduction => Line.Column,
            Intrinsics.IntrinsicKind.Orthogonalization => Line.Element,
            Intrinsics.IntrinsicKind.Elementwise => c.Arguments.Aggregate(Line.Uniform, (acc, a) => Combine(acc, LineOf(a))),
            _ => Line.Uniform,
        },
        _ => Line.Uniform,
    };
}
