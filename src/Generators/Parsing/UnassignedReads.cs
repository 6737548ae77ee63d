using System.Collections.Generic;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Whether a translated rule may read a local before assigning it (in its own initializer, say), judged as the
/// emitters walk the rule: a local counts as assigned after an if/else only where both arms assign it, and no
/// condition is evaluated. C# rejects such a read (CS0165) unless a constant condition settles it, so where this finds
/// one the parser asks the compiler.
/// </summary>
static class UnassignedReads
{
    public static bool MayOccur(IEnumerable<Stmt> body) => !AllReadsAssigned(body, new HashSet<string>());

    /// <summary>False at the first read of a local not in <paramref name="assigned"/>, which follows the path walked.</summary>
    static bool AllReadsAssigned(IEnumerable<Stmt> statements, HashSet<string> assigned)
    {
        foreach (var s in statements)
        {
            switch (s)
            {
                case Assign a:
                    if (!Assigned(a.Value, assigned)) return false;
                    if (a.Target.Kind == VarKind.Local) assigned.Add(a.Target.Name);
                    break;
                case If i:
                    if (!Assigned(i.Condition, assigned)) return false;
                    var then = new HashSet<string>(assigned);
                    var otherwise = new HashSet<string>(assigned);
                    if (!AllReadsAssigned(i.Then, then) || !AllReadsAssigned(i.Else, otherwise)) return false;
                    then.IntersectWith(otherwise);
                    assigned.UnionWith(then);
                    break;
            }
        }
        return true;
    }

    /// <summary>Whether every local <paramref name="e"/> reads is in <paramref name="assigned"/>.</summary>
    static bool Assigned(Expr e, HashSet<string> assigned) => e switch
    {
        Reference { Kind: VarKind.Local } r => assigned.Contains(r.Name),
        Unary u => Assigned(u.Operand, assigned),
        Binary b => Assigned(b.Left, assigned) && Assigned(b.Right, assigned),
        Call c => AllAssigned(c.Arguments, assigned),
        Select s => Assigned(s.Condition, assigned) && Assigned(s.WhenTrue, assigned) && Assigned(s.WhenFalse, assigned),
        Convert c => Assigned(c.Operand, assigned),
        _ => true,
    };

    static bool AllAssigned(EquatableArray<Expr> arguments, HashSet<string> assigned)
    {
        foreach (var a in arguments)
            if (!Assigned(a, assigned)) return false;
        return true;
    }
}
