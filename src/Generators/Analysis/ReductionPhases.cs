using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Analysis;

/// <summary>
/// Splits an update rule at its reductions into the phases the fused backends run (<see cref="PhasePlan"/>). A value's
/// level is the number of reduction passes it waits for: the parameter, gradient and state start at 0; a reduction's
/// result is one more than its argument's level; anything else takes the highest level it reads (a value assigned
/// under a condition also the condition's). A reduction of level k is accumulated in phase k; the rule needs one phase
/// more than its highest level. A variance (<c>Reduce.Var</c>, <c>Std</c>) is two reductions: the mean of its argument,
/// then the squared deviations from it one level later, in a pass over memory that the mean does not change.
/// Scalar state may take a value computed from reductions (uniform over the tensor): the plan then has the host half
/// run again after each phase (<see cref="PhasePlan.HostReadsResults"/>), computing on the host as well the locals such
/// a value reads; a local assigned under a condition on a reduction, or from per-element values, has no host value.
/// Work per row or column (<c>Matrix.RowMean</c> and kin, state kept per row or column) is planned the same way, each
/// value's shape followed as well — whether it varies over the elements, the rows, the columns or none — so that state
/// kept per row takes only values per row. (A reduction over the tensor of a value per row counts it once per element,
/// as the portable path does: the value is broadcast to the parameter's shape first.)
/// </summary>
public static class ReductionPhases
{
    public static PhasePlan Of(OptimizerModel model, UpdateModel rule)
    {
        if (model.Work.IsElementwise) return PhasePlan.Elementwise;
        var walk = new Walk(model.States.ToDictionary(s => s.Name, s => s.Shape));
        walk.Statements(rule.Body, conditionLevel: 0, perElement: false);
        // The locals the host half computes (those scalar state reads, and those they read) must hold the same value for
        // every element wherever they are assigned.
        var hostLocals = walk.HostReadsResults ? walk.LocalsTheHostNeeds() : new HashSet<string>();
        if (hostLocals.OrderBy(n => n, System.StringComparer.Ordinal).FirstOrDefault(walk.PerElementLocals.Contains) is { } mixed)
            walk.Block($"local '{mixed}' holds a value from reductions that scalar state reads, and elsewhere a per-element one");
        if (walk.Blocker is not null) return Blocked(walk.Blocker);
        bool rowWise = model.States.Any(s => s.Shape != StateShapeModel.Elements) || walk.Reductions.Any(r => r.PerRowOrColumn);
        if (walk.Reductions.Count == 0)
        {
            // State per row or column that no reduction feeds can only be scaled: rare enough to leave portable.
            if (rowWise) return Blocked("state kept per row or column with no reduction has no fused form yet");
            // Whole-tensor work that is only the matrix view's shape (Matrix.Rows(), Columns()) is a host value: one pass.
            return PhasePlan.Elementwise;
        }
        int phases = walk.Reductions.Max(r => r.Level) + 1;
        var shadows = hostLocals.Where(walk.UniformLocals.Contains).OrderBy(n => n, System.StringComparer.Ordinal).ToEquatableArray();
        bool columnWork = model.States.Any(s => s.Shape == StateShapeModel.Columns) || walk.Reductions.Any(r => r.Scope == ReductionScope.Column);
        return new PhasePlan(phases, walk.Reductions.ToEquatableArray(), null, walk.HostReadsResults, shadows, rowWise, columnWork);
    }

    static PhasePlan Blocked(string why) => new(1, EquatableArray<PlannedReduction>.Empty, why);

    /// <summary>What a value varies over: nothing (one value for the tensor), the rows or the columns of its matrix view, or its elements.</summary>
    [System.Flags]
    enum Shape { Uniform = 0, Row = 1, Column = 2, Element = Row | Column }

    sealed class Walk(Dictionary<string, StateShapeModel> stateShapes)
    {
        public readonly List<PlannedReduction> Reductions = new();
        public string? Blocker;
        public bool HostReadsResults;
        /// <summary>Locals assigned values from reductions (uniform over the tensor).</summary>
        public readonly HashSet<string> UniformLocals = new();
        /// <summary>Locals assigned per-element values, or any value under a per-element condition.</summary>
        public readonly HashSet<string> PerElementLocals = new();
        // The locals values assigned to scalar state from reductions read, and those each local's values read.
        readonly HashSet<string> _scalarStateReads = new();
        readonly Dictionary<string, HashSet<string>> _localReads = new();

        /// <summary>The locals scalar state's values from reductions read, directly or through other locals.</summary>
        public HashSet<string> LocalsTheHostNeeds()
        {
            var needed = new HashSet<string>();
            var pending = new Stack<string>(_scalarStateReads);
            while (pending.Count > 0)
            {
                var local = pending.Pop();
                if (!needed.Add(local) || !_localReads.TryGetValue(local, out var reads)) continue;
                foreach (var read in reads) pending.Push(read);
            }
            return needed;
        }

        /// <summary>The locals <paramref name="e"/> reads outside reductions (a reduction's argument is not read on the host).</summary>
        static IEnumerable<string> LocalsRead(Expr e) => e switch
        {
            Reference { Kind: VarKind.Local } r => new[] { r.Name },
            Call c when c.Function.IsWholeTensor() => System.Array.Empty<string>(),
            Call c => c.Arguments.SelectMany(LocalsRead),
            Unary u => LocalsRead(u.Operand),
            Binary b => LocalsRead(b.Left).Concat(LocalsRead(b.Right)),
            Select s => LocalsRead(s.Condition).Concat(LocalsRead(s.WhenTrue)).Concat(LocalsRead(s.WhenFalse)),
            Convert c => LocalsRead(c.Operand),
            _ => System.Array.Empty<string>(),
        };
        int _sums, _matrices, _hostConditions;
        /// <summary>The level of the conditions the statement being walked stands under: its reductions wait for them.</summary>
        int _conditionLevel;
        Dictionary<(VarKind, string), int> _levels = new();
        /// <summary>What each local's value varies over where the walk is (a value under a condition also over what the condition does).</summary>
        Dictionary<string, Shape> _shapes = new();
        readonly HashSet<Call> _seen = new(ByReference<Call>.Instance);

        public void Statements(IEnumerable<Stmt> statements, int conditionLevel, bool perElement, Shape conditionShape = Shape.Uniform)
        {
            foreach (var s in statements)
            {
                switch (s)
                {
                    case Assign a:
                    {
                        _conditionLevel = conditionLevel;
                        int level = System.Math.Max(Level(a.Value, perElement), conditionLevel);
                        var shape = ShapeOf(a.Value) | conditionShape;
                        if (a.Target.Kind == VarKind.Local) _shapes[a.Target.Name] = shape;
                        // (OPT0027 refuses such a declaration first; the plan does not rely on it.)
                        if (a.Target.Kind == VarKind.State && stateShapes.TryGetValue(a.Target.Name, out var kept) && kept != StateShapeModel.Elements
                            && (shape & ~(kept == StateShapeModel.Rows ? Shape.Row : Shape.Column)) != 0)
                            Block($"state '{a.Target.Name}' is kept per {(kept == StateShapeModel.Rows ? "row" : "column")} and takes a value that differs along it");
                        bool uniform = !perElement && !PerElement(a.Value);
                        if (a.Target.Kind == VarKind.ScalarState && a.Value.Varying)
                        {
                            if (!uniform) Block($"scalar state '{a.Target.Name}' takes a value from reductions under a condition on one (the host cannot tell which arm ran)");
                            HostReadsResults = true;
                            _scalarStateReads.UnionWith(LocalsRead(a.Value));
                        }
                        if (a.Target.Kind == VarKind.Local)
                        {
                            if (!uniform) PerElementLocals.Add(a.Target.Name);
                            if (a.Value.Varying && uniform) UniformLocals.Add(a.Target.Name);
                            if (!_localReads.TryGetValue(a.Target.Name, out var reads)) _localReads[a.Target.Name] = reads = new HashSet<string>();
                            reads.UnionWith(LocalsRead(a.Value));
                        }
                        _levels[(a.Target.Kind, a.Target.Name)] = level;
                        break;
                    }
                    case If i:
                    {
                        _conditionLevel = conditionLevel;
                        int level = System.Math.Max(Level(i.Condition, perElement), conditionLevel);
                        bool inner = perElement || i.Condition.Varying;
                        if (!i.Condition.Varying) _hostConditions++;
                        var within = conditionShape | (i.Condition.Varying ? ShapeOf(i.Condition) : Shape.Uniform);
                        var (before, shapesBefore) = (_levels, _shapes);
                        (_levels, _shapes) = (new(before), new(shapesBefore));
                        Statements(i.Then, level, inner, within);
                        var (afterThen, shapesAfterThen) = (_levels, _shapes);
                        (_levels, _shapes) = (new(before), new(shapesBefore));
                        Statements(i.Else, level, inner, within);
                        foreach (var entry in afterThen)
                            _levels[entry.Key] = System.Math.Max(entry.Value, _levels.TryGetValue(entry.Key, out var other) ? other : 0);
                        foreach (var entry in shapesAfterThen)
                            _shapes[entry.Key] = entry.Value | (_shapes.TryGetValue(entry.Key, out var other) ? other : Shape.Uniform);
                        if (!i.Condition.Varying) _hostConditions--;
                        break;
                    }
                }
            }
        }

        /// <summary>
        /// Whether <paramref name="e"/> differs per element: it reads the parameter, gradient, state, a matrix call's
        /// result or a per-element local outside a reduction.
        /// </summary>
        bool PerElement(Expr e) => e switch
        {
            Reference r => r.Kind is VarKind.Param or VarKind.Grad or VarKind.State || (r.Kind == VarKind.Local && PerElementLocals.Contains(r.Name)),
            Call c when c.Function.Kind() is IntrinsicKind.Orthogonalization or IntrinsicKind.RowReduction or IntrinsicKind.ColumnReduction => true,
            Call c when c.Function.IsWholeTensor() => false,
            Call c => c.Arguments.Any(PerElement),
            Unary u => PerElement(u.Operand),
            Binary b => PerElement(b.Left) || PerElement(b.Right),
            Select s => PerElement(s.Condition) || PerElement(s.WhenTrue) || PerElement(s.WhenFalse),
            Convert c => PerElement(c.Operand),
            _ => false,
        };

        /// <summary>What <paramref name="e"/> varies over (a reduction over the whole tensor, or over the step, varies over nothing).</summary>
        Shape ShapeOf(Expr e) => e switch
        {
            Reference { Kind: VarKind.Param or VarKind.Grad } => Shape.Element,
            Reference { Kind: VarKind.State } r => stateShapes.TryGetValue(r.Name, out var kept)
                ? kept switch { StateShapeModel.Rows => Shape.Row, StateShapeModel.Columns => Shape.Column, _ => Shape.Element }
                : Shape.Element,
            Reference { Kind: VarKind.Local } r => _shapes.TryGetValue(r.Name, out var shape) ? shape : Shape.Uniform,
            Call c when c.Function.Kind() == IntrinsicKind.RowReduction => Shape.Row,
            Call c when c.Function.Kind() == IntrinsicKind.ColumnReduction => Shape.Column,
            Call c when c.Function.Kind() == IntrinsicKind.Orthogonalization => Shape.Element,
            Call c when c.Function.IsWholeTensor() => Shape.Uniform,
            Call c => c.Arguments.Aggregate(Shape.Uniform, (shape, a) => shape | ShapeOf(a)),
            Unary u => ShapeOf(u.Operand),
            Binary b => ShapeOf(b.Left) | ShapeOf(b.Right),
            Select s => ShapeOf(s.Condition) | ShapeOf(s.WhenTrue) | ShapeOf(s.WhenFalse),
            Convert c => ShapeOf(c.Operand),
            _ => Shape.Uniform,
        };

        int Level(Expr e, bool perElement)
        {
            switch (e)
            {
                case Reference r:
                    return _levels.TryGetValue((r.Kind, r.Name), out var level) ? level : 0;
                case Call c when c.Function.Kind() == IntrinsicKind.Shape:
                    return 0; // the matrix view's rows or columns: a host value
                case Call c when c.Function.IsWholeTensor():
                {
                    var intrinsic = c.Function.Intrinsic();
                    bool matrix = intrinsic.FusedMatrix;
                    if (intrinsic.FusedReduction is null && !matrix)
                    {
                        Block($"{intrinsic.Display} has no fused form yet");
                        return 0;
                    }
                    if (perElement) Block($"{intrinsic.Display} is called under a per-element condition");
                    // The runtime orthogonalises every stored matrix: one that a branch may leave unstored cannot be.
                    if (matrix && _hostConditions > 0) Block($"{intrinsic.Display} is called under a condition");
                    if (!_seen.Add(c)) Block($"{intrinsic.Display} is shared between two places of the rule");
                    int argument = System.Math.Max(c.Arguments.Select(a => Level(a, perElement)).DefaultIfEmpty(0).Max(), _conditionLevel);
                    var scope = intrinsic.Kind switch
                    {
                        IntrinsicKind.GlobalReduction => ReductionScope.Step,
                        IntrinsicKind.GroupReduction => ReductionScope.Group,
                        IntrinsicKind.RowReduction => ReductionScope.Row,
                        IntrinsicKind.ColumnReduction => ReductionScope.Column,
                        _ => ReductionScope.Tensor,
                    };
                    if (intrinsic.FusedReduction is "Var" or "Std")
                    {
                        // The mean first, then the squared deviations from it: two passes, as exact as torch's.
                        var x = c.Arguments[0];
                        var mean = new Call(MathFunction.ReduceMean, new[] { x }.ToEquatableArray(), ValueKind.Real);
                        Reductions.Add(new PlannedReduction(_sums++, mean, argument + 1, Op: "Mean"));
                        var deviation = new Binary(BinaryOp.Subtract, x, mean, ValueKind.Real);
                        var squared = new Binary(BinaryOp.Multiply, deviation, deviation, ValueKind.Real);
                        Reductions.Add(new PlannedReduction(_sums++, c, argument + 2, Op: intrinsic.FusedReduction, Accumuland: squared));
                        return argument + 2;
                    }
                    Reductions.Add(new PlannedReduction(matrix ? _matrices++ : _sums++, c, argument + 1, matrix, intrinsic.FusedReduction ?? "Sum", scope));
                    return argument + 1;
                }
                case Call c:
                    return c.Arguments.Select(a => Level(a, perElement)).DefaultIfEmpty(0).Max();
                case Unary u:
                    return Level(u.Operand, perElement);
                case Binary b:
                    return System.Math.Max(Level(b.Left, perElement), Level(b.Right, perElement));
                case Select s:
                    return new[] { Level(s.Condition, perElement), Level(s.WhenTrue, perElement), Level(s.WhenFalse, perElement) }.Max();
                case Convert c:
                    return Level(c.Operand, perElement);
                default:
                    return 0;
            }
        }

        public void Block(string why) => Blocker ??= why;
    }
}
