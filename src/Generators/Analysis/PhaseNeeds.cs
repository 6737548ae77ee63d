using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Analysis;

/// <summary>
/// What one phase of a phased rule (<see cref="PhasePlan"/>) must compute. The last phase is the whole rule. A phase
/// before it needs only what leads to the reductions it accumulates: their arguments, the values and conditions those
/// read, and the elements read from memory for them. The rest belongs to later phases; leaving it out spares the loads
/// of state the phase does not use, which a JIT keeps even when nothing reads the value.
/// </summary>
public sealed class PhaseNeeds
{
    readonly HashSet<Stmt>? _statements;
    readonly HashSet<(VarKind, string)>? _variables;
    readonly HashSet<PlannedReduction>? _results;

    PhaseNeeds(HashSet<Stmt>? statements, HashSet<(VarKind, string)>? variables, HashSet<PlannedReduction>? results)
    {
        _statements = statements;
        _variables = variables;
        _results = results;
    }

    /// <summary>Everything: the last phase, or a rule of one phase.</summary>
    public static readonly PhaseNeeds All = new(null, null, null);

    /// <summary>Whether the phase reads the result of <paramref name="reduction"/> (one an earlier phase computed).</summary>
    public bool Reads(PlannedReduction reduction) => _results is null || _results.Contains(reduction);

    /// <summary>
    /// Whether the phase runs <paramref name="statement"/>: an assignment's assignment (its accumulations run either way),
    /// or an if (which it keeps when anything inside assigns or accumulates).
    /// </summary>
    public bool Runs(Stmt statement) => _statements is null || _statements.Contains(statement);

    /// <summary>Whether the phase reads or writes the element value <paramref name="name"/> of kind <paramref name="kind"/> (parameter, gradient, state or local).</summary>
    public bool Uses(VarKind kind, string name) => _variables is null || _variables.Contains((kind, name));

    /// <summary>What phase <paramref name="phase"/> of <paramref name="rule"/>, split as <paramref name="plan"/> says, needs.</summary>
    public static PhaseNeeds Of(UpdateModel rule, PhasePlan plan, int phase)
    {
        if (phase >= plan.Phases) return All;
        var walk = new Walk(plan, phase);
        walk.Block(rule.Body, new HashSet<(VarKind, string)>(), branched: false);
        return new PhaseNeeds(walk.Statements, walk.Used, walk.Results);
    }

    /// <summary>
    /// A backward walk over the rule: a statement is needed when it accumulates a reduction of the phase or assigns a
    /// value still needed after it. Inside a branch an assignment does not end its target's need (the branch may not
    /// run, and a vector lane mask reads the old value), so the walk stays safe without knowing which way it goes.
    /// </summary>
    sealed class Walk(PhasePlan plan, int phase)
    {
        public readonly HashSet<Stmt> Statements = new(ByReference<Stmt>.Instance);
        public readonly HashSet<(VarKind, string)> Used = new();
        public readonly HashSet<PlannedReduction> Results = new(ByReference<PlannedReduction>.Instance);
        /// <summary>How many statements have been found to do something in the phase (assign or accumulate) so far.</summary>
        int _kept;
        readonly Dictionary<Call, PlannedReduction> _reductions = plan.Reductions.ToDictionary(r => r.Call, r => r, ByReference<Call>.Instance);

        /// <summary>Walks <paramref name="statements"/> backward from <paramref name="live"/> (the values needed after them), which it turns into those needed before.</summary>
        public void Block(IReadOnlyList<Stmt> statements, HashSet<(VarKind, string)> live, bool branched)
        {
            for (int i = statements.Count - 1; i >= 0; i--)
            {
                switch (statements[i])
                {
                    case Assign a:
                    {
                        var target = (a.Target.Kind, a.Target.Name);
                        bool assigns = live.Contains(target);
                        bool accumulates = Accumulates(a.Value);
                        if (!assigns && !accumulates) break;
                        _kept++;
                        if (assigns)
                        {
                            Statements.Add(a);
                            Used.Add(target);
                            if (!branched) live.Remove(target);
                            Reads(a.Value, live, whole: true);
                        }
                        else Reads(a.Value, live, whole: false);
                        break;
                    }
                    case If s:
                    {
                        int before = _kept;
                        var then = new HashSet<(VarKind, string)>(live);
                        var otherwise = new HashSet<(VarKind, string)>(live);
                        Block(s.Then, then, branched: true);
                        Block(s.Else, otherwise, branched: true);
                        if (_kept == before && !Accumulates(s.Condition)) break;
                        _kept++;
                        Statements.Add(s);
                        live.UnionWith(then);
                        live.UnionWith(otherwise);
                        Reads(s.Condition, live, whole: true);
                        break;
                    }
                }
            }
        }

        /// <summary>Whether <paramref name="e"/> holds a reduction this phase accumulates.</summary>
        bool Accumulates(Expr e) => plan.In(e).Any(r => r.Level == phase);

        /// <summary>
        /// Marks what <paramref name="e"/> reads as needed: all of it (<paramref name="whole"/>), or only the arguments of
        /// the reductions the phase accumulates in it. A reduction from an earlier phase is a known result and one from a
        /// later phase a placeholder: neither reads its argument here.
        /// </summary>
        void Reads(Expr e, HashSet<(VarKind, string)> live, bool whole)
        {
            switch (e)
            {
                case Reference r when whole && r.Kind is VarKind.Param or VarKind.Grad or VarKind.State or VarKind.Local:
                    live.Add((r.Kind, r.Name));
                    Used.Add((r.Kind, r.Name));
                    break;
                case Call c when _reductions.TryGetValue(c, out var reduction):
                    // Its argument is read whole where it is accumulated; a later reduction may hold one accumulated here.
                    if (reduction.Level >= phase) Reads(reduction.Argument, live, whole: reduction.Level == phase);
                    else if (whole) Results.Add(reduction);
                    break;
                case Call c:
                    foreach (var argument in c.Arguments) Reads(argument, live, whole);
                    break;
                case Unary u: Reads(u.Operand, live, whole); break;
                case Binary b: Reads(b.Left, live, whole); Reads(b.Right, live, whole); break;
                case Select s: Reads(s.Condition, live, whole); Reads(s.WhenTrue, live, whole); Reads(s.WhenFalse, live, whole); break;
                case Convert c: Reads(c.Operand, live, whole); break;
            }
        }
    }
}
