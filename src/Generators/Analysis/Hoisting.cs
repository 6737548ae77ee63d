using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Analysis;

/// <summary>
/// Lifts host-only sub-expressions out of per-element work: in every varying expression, each maximal
/// sub-expression that depends only on hyperparameters, the step, scalar state and host locals becomes a
/// <see cref="HoistedScalar"/>, computed once per step and tensor and passed to the elementwise code as a scalar
/// (bias corrections, <c>lr * weightDecay</c>, <c>1 - beta1</c>). Host statements stay as written.
/// </summary>
public static class Hoisting
{
    public sealed record Result(ImmutableArray<Stmt> Body, ImmutableArray<HoistedScalar> Scalars);

    public static Result Apply(ImmutableArray<Stmt> body)
    {
        var pass = new Pass();
        var hoisted = body.Select(pass.Statement).ToImmutableArray();
        return new Result(hoisted, pass.Scalars.ToImmutableArray());
    }

    sealed class Pass
    {
        public readonly List<HoistedScalar> Scalars = new();
        readonly Dictionary<Expr, int> _shared = new();

        public Stmt Statement(Stmt s) => s switch
        {
            Assign a when a.Value.Varying => a with { Value = Within(a.Value) },
            Assign a when a.Target.Kind is VarKind.State or VarKind.Param && !IsLeaf(a.Value) => a with { Value = Lift(a.Value) },
            If i => i with
            {
                Condition = i.Condition.Varying ? Within(i.Condition) : i.Condition,
                Then = i.Then.Select(Statement).ToEquatableArray(),
                Else = i.Else.Select(Statement).ToEquatableArray(),
            },
            _ => s,
        };

        /// <summary>Rewrites the children of a varying expression.</summary>
        Expr Within(Expr e) => e switch
        {
            Unary u => u with { Operand = Child(u.Operand) },
            Binary b => b with { Left = Child(b.Left), Right = Child(b.Right) },
            Call c => c with { Arguments = c.Arguments.Select(Child).ToEquatableArray() },
            Select s => s with { Condition = Child(s.Condition), WhenTrue = Child(s.WhenTrue), WhenFalse = Child(s.WhenFalse) },
            Convert c => c with { Operand = Child(c.Operand) },
            _ => e,
        };

        Expr Child(Expr e) => e.Varying ? Within(e) : IsLeaf(e) ? e : Lift(e);

        Expr Lift(Expr e)
        {
            // Values that read mutable host data (locals, scalar state) are tied to where they are computed;
            // the rest are shared by every use.
            bool shareable = !ReadsMutable(e);
            if (shareable && _shared.TryGetValue(e, out var index)) return new Hoisted(index, e.Type);
            index = Scalars.Count;
            Scalars.Add(new HoistedScalar(index, e));
            if (shareable) _shared[e] = index;
            return new Hoisted(index, e.Type);
        }

        static bool IsLeaf(Expr e) => e is Constant or Reference or Hoisted;

        static bool ReadsMutable(Expr e) => e switch
        {
            Reference r => r.Kind is VarKind.Local or VarKind.ScalarState,
            Unary u => ReadsMutable(u.Operand),
            Binary b => ReadsMutable(b.Left) || ReadsMutable(b.Right),
            Call c => c.Arguments.Any(ReadsMutable),
            Select s => ReadsMutable(s.Condition) || ReadsMutable(s.WhenTrue) || ReadsMutable(s.WhenFalse),
            Convert c => ReadsMutable(c.Operand),
            _ => false,
        };
    }
}
