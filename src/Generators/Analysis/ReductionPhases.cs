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
/// more than its highest level.
/// </summary>
public static class ReductionPhases
{
    public static PhasePlan Of(OptimizerModel model, UpdateModel rule)
    {
        if (model.Work.IsElementwise) return PhasePlan.Elementwise;
        if (model.States.FirstOrDefault(s => s.Shape != StateShapeModel.Elements) is { } line)
            return Blocked($"state '{line.Name}' is kept per {(line.Shape == StateShapeModel.Rows ? "row" : "column")}");
        var walk = new Walk();
        walk.Statements(rule.Body, conditionLevel: 0, perElement: false);
        if (walk.Blocker is not null) return Blocked(walk.Blocker);
        // Whole-tensor work that is only the matrix view's shape (Matrix.Rows(), Columns()) is a host value: one pass.
        if (walk.Reductions.Count == 0) return PhasePlan.Elementwise;
        int phases = walk.Reductions.Max(r => r.Level) + 1;
        return new PhasePlan(phases, walk.Reductions.ToEquatableArray(), null);
    }

    static PhasePlan Blocked(string why) => new(1, EquatableArray<PlannedReduction>.Empty, why);

    sealed class Walk
    {
        public readonly List<PlannedReduction> Reductions = new();
        public string? Blocker;
        int _sums, _matrices, _hostConditions;
        Dictionary<(VarKind, string), int> _levels = new();
        readonly HashSet<Call> _seen = new(ByReference<Call>.Instance);

        public void Statements(IEnumerable<Stmt> statements, int conditionLevel, bool perElement)
        {
            foreach (var s in statements)
            {
                switch (s)
                {
                    case Assign a:
                    {
                        int level = System.Math.Max(Level(a.Value, perElement), conditionLevel);
                        if (a.Target.Kind == VarKind.ScalarState && a.Value.Varying)
                            Block($"scalar state '{a.Target.Name}' takes a per-element or reduced value (scalar state is computed on the host)");
                        _levels[(a.Target.Kind, a.Target.Name)] = level;
                        break;
                    }
                    case If i:
                    {
                        int level = System.Math.Max(Level(i.Condition, perElement), conditionLevel);
                        bool inner = perElement || i.Condition.Varying;
                        if (!i.Condition.Varying) _hostConditions++;
                        var before = _levels;
                        _levels = new Dictionary<(VarKind, string), int>(before);
                        Statements(i.Then, level, inner);
                        var afterThen = _levels;
                        _levels = new Dictionary<(VarKind, string), int>(before);
                        Statements(i.Else, level, inner);
                        foreach (var entry in afterThen)
                            _levels[entry.Key] = System.Math.Max(entry.Value, _levels.TryGetValue(entry.Key, out var other) ? other : 0);
                        if (!i.Condition.Varying) _hostConditions--;
                        break;
                    }
                }
            }
        }

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
                    int argument = c.Arguments.Select(a => Level(a, perElement)).DefaultIfEmpty(0).Max();
                    Reductions.Add(new PlannedReduction(matrix ? _matrices++ : _sums++, c, argument + 1, matrix));
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

        void Block(string why) => Blocker ??= why;
    }
}
