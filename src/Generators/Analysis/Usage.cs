using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Analysis;

/// <summary>Works out a rule's <see cref="RuleUsage"/>: which hyperparameters, state and step it reads or writes.</summary>
public static class Usage
{
    public static RuleUsage Of(UpdateModel rule)
    {
        var walk = new Walk();
        foreach (var s in rule.Body) walk.Visit(s);
        foreach (var h in rule.Hoisted) walk.Visit(h.Value);
        static EquatableArray<string> Sorted(HashSet<string> names) => names.OrderBy(n => n, System.StringComparer.Ordinal).ToEquatableArray();
        return new RuleUsage(Sorted(walk.Hypers), Sorted(walk.States), Sorted(walk.ScalarStates), walk.Step, walk.WholeTensor.ToEquatableArray());
    }

    sealed class Walk
    {
        public readonly HashSet<string> Hypers = new(), States = new(), ScalarStates = new();
        public readonly SortedSet<MathFunction> WholeTensor = new();
        public bool Step;

        public void Visit(Stmt s)
        {
            switch (s)
            {
                case Assign a:
                    Mark(a.Target.Kind, a.Target.Name);
                    Visit(a.Value);
                    break;
                case If i:
                    Visit(i.Condition);
                    foreach (var t in i.Then) Visit(t);
                    foreach (var e in i.Else) Visit(e);
                    break;
            }
        }

        public void Visit(Expr e)
        {
            switch (e)
            {
                case Reference r: Mark(r.Kind, r.Name); break;
                case Unary u: Visit(u.Operand); break;
                case Binary b: Visit(b.Left); Visit(b.Right); break;
                case Call c:
                    if (c.Function.IsWholeTensor()) WholeTensor.Add(c.Function);
                    foreach (var a in c.Arguments) Visit(a);
                    break;
                case Select s: Visit(s.Condition); Visit(s.WhenTrue); Visit(s.WhenFalse); break;
                case Convert c: Visit(c.Operand); break;
            }
        }

        void Mark(VarKind kind, string name)
        {
            switch (kind)
            {
                case VarKind.Hyper: Hypers.Add(name); break;
                case VarKind.State: States.Add(name); break;
                case VarKind.ScalarState: ScalarStates.Add(name); break;
                case VarKind.Step: Step = true; break;
            }
        }
    }
}
