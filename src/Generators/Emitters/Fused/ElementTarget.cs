using System.Collections.Generic;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>What a target's element code reads from the rule being walked.</summary>
interface IElementValues
{
    /// <summary>The slot holding the host value of <paramref name="hostExpression"/> at this point of the rule.</summary>
    Slot SlotOf(Expr hostExpression);

    /// <summary>What <paramref name="reference"/> holds here: a register of the element code, or a host value in a slot.</summary>
    (string? Register, Slot? Slot) Read(Reference reference);

    /// <summary>A variable name of the element code not taken by any other (a vector target's lane mask).</summary>
    string NewVariable(string preferred);

    /// <summary>Whether the statement being written stands inside a condition (host or per element).</summary>
    bool InBranch { get; }
}

/// <summary>
/// A host value the element code reads: number <paramref name="Index"/> of the scalars <c>FillScalars</c> fills, read
/// once at the top of the element code into a variable named after it (<c>s_beta1</c>, <c>s_h2</c>).
/// </summary>
sealed record Slot(int Index, ValueKind Type, string Name)
{
    /// <summary>The variable that holds the slot's value in the element code (a bool slot holds a bool).</summary>
    public string Variable => "s_" + Name;
}

/// <summary>How a target starts a per-element condition: the header of its if, and the lanes each arm applies to.</summary>
sealed record PerElementFork(string Header, string? ThenMask, string? ElseMask);

/// <summary>
/// One language the fused element code is written in (CUDA C, C# over floats, C# over <c>Vector&lt;float&gt;</c>): how
/// it writes an expression, an assignment, and the two kinds of condition. The fused emitter walks the rule once and
/// asks every target in turn, so all of them see the same slots in the same order.
/// </summary>
abstract class ElementTarget
{
    protected ElementTarget(IElementValues values, PhaseView phase)
    {
        Values = values;
        Phase = phase;
    }

    protected IElementValues Values { get; }

    /// <summary>The phase of the rule this target writes: the reductions it reads, and those it accumulates.</summary>
    public PhaseView Phase { get; }

    /// <summary>
    /// Before a statement that reads <paramref name="e"/>: adds each reduction of <paramref name="e"/> this phase
    /// accumulates to its accumulator, for the element being computed.
    /// </summary>
    public abstract void Accumulate(CodeWriter w, Expr e);

    /// <summary>The target's code for a per-element expression.</summary>
    public abstract string Expression(Expr e);

    /// <summary><paramref name="name"/> = <paramref name="value"/>, for the lanes <paramref name="mask"/> selects (null: all).</summary>
    public abstract void Assign(CodeWriter w, string? mask, string name, Expr value, ValueKind type, string comment);

    /// <summary><paramref name="name"/> = the host value in <paramref name="slot"/>.</summary>
    public abstract void AssignSlot(CodeWriter w, string? mask, string name, Slot slot);

    /// <summary>A condition the same for every element (its host value in <paramref name="slot"/>): a uniform branch.</summary>
    public abstract void HostIf(CodeWriter w, Slot slot, string source, CodeWriter then, CodeWriter otherwise);

    /// <summary>Starts a per-element condition inside the lanes <paramref name="mask"/> selects.</summary>
    public abstract PerElementFork ForkPerElement(CodeWriter w, Expr condition, string source, string? mask);

    /// <summary>Writes a per-element condition's arms.</summary>
    public abstract void EndPerElement(CodeWriter w, PerElementFork fork, CodeWriter then, CodeWriter otherwise);

    /// <summary>An if with its else (left out when empty; an else-if chain stays flat).</summary>
    protected static void Branches(CodeWriter w, string header, CodeWriter then, CodeWriter otherwise) => w.If(header, then, otherwise);

    /// <summary>Reads a reference: its register, or its host value's slot through <paramref name="slot"/>.</summary>
    protected string Reference(Reference r, System.Func<Slot, string> slot) => Values.Read(r) switch
    {
        ({ } register, _) => register,
        (_, { } s) => slot(s),
        _ => throw new System.InvalidOperationException($"read of unassigned '{r.Name}'"),
    };
}

/// <summary>The element code of one path of the rule: a writer per target, and the lanes the path applies to.</summary>
sealed class ElementCode
{
    readonly CodeWriter[] _writers;
    readonly string?[] _masks;

    public ElementCode(int targets) : this(new string?[targets]) { }

    public ElementCode(string?[] masks)
    {
        _masks = masks;
        _writers = new CodeWriter[masks.Length];
        for (int i = 0; i < masks.Length; i++) _writers[i] = new CodeWriter();
    }

    public CodeWriter this[int target] => _writers[target];

    /// <summary>The lanes target <paramref name="target"/> applies this path's assignments to (null: all).</summary>
    public string? Mask(int target) => _masks[target];

    public IReadOnlyList<string?> Masks => _masks;
}

/// <summary>Names of the element code's variables, the same in every target.</summary>
static class ElementNames
{
    public static string State(string name) => "st_" + name;

    public static string Local(string name) => "l_" + name;
}
