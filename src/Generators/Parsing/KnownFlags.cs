using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// The hyperparameters known to be true (flags) or nonzero (numbers) at the point of the rule being translated, from
/// the conditions it stands under: what a state's <c>OnlyIf</c> asks for before the state may be read or written.
/// </summary>
sealed class KnownFlags
{
    ImmutableHashSet<string> _known = ImmutableHashSet<string>.Empty;

    public bool Contains(string hyper) => _known.Contains(hyper);

    /// <summary>Within the returned scope, what holds where <paramref name="condition"/> is <paramref name="outcome"/> is known too.</summary>
    public System.IDisposable Assume(Expr condition, bool outcome)
    {
        var before = _known;
        _known = before.Union(TrueWhen(condition, outcome));
        return new Scope(this, before);
    }

    sealed class Scope(KnownFlags flags, ImmutableHashSet<string> before) : System.IDisposable
    {
        public void Dispose() => flags._known = before;
    }

    static IEnumerable<string> TrueWhen(Expr condition, bool outcome) => condition switch
    {
        Reference { Kind: VarKind.Hyper, Type: ValueKind.Boolean } r when outcome => new[] { r.Name },
        Binary { Op: BinaryOp.NotEqual or BinaryOp.Greater, Left: Reference { Kind: VarKind.Hyper } r, Right: Constant { Value: 0 } } when outcome => new[] { r.Name },
        Binary { Op: BinaryOp.NotEqual or BinaryOp.Less, Left: Constant { Value: 0 }, Right: Reference { Kind: VarKind.Hyper } r } when outcome => new[] { r.Name },
        Binary { Op: BinaryOp.Equal, Left: Reference { Kind: VarKind.Hyper } r, Right: Constant { Value: 0 } } when !outcome => new[] { r.Name },
        Binary { Op: BinaryOp.Equal, Left: Constant { Value: 0 }, Right: Reference { Kind: VarKind.Hyper } r } when !outcome => new[] { r.Name },
        Unary { Op: UnaryOp.Not } u => TrueWhen(u.Operand, !outcome),
        Binary { Op: BinaryOp.And } b when outcome => TrueWhen(b.Left, true).Concat(TrueWhen(b.Right, true)),
        Binary { Op: BinaryOp.Or } b when !outcome => TrueWhen(b.Left, false).Concat(TrueWhen(b.Right, false)),
        _ => Enumerable.Empty<string>(),
    };
}
