using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Walks a rule's statements in program order for an emitter, keeping an environment from each variable to its
/// current value: a host value (C# over doubles, computed once per step and tensor), a per-element value (a register
/// of the fused element code, or a tensor of the portable code), or nothing yet. Branches are walked from a copy of
/// the environment and joined afterwards: values the two arms agree on stay, host values become one host variable
/// assigned in each arm, and what differs per element is joined the way the target can (<typeparamref name="TPath"/>
/// is where a target writes the code of one path). Host expressions, hoisted scalars and hyperparameter bindings are
/// written here once for every target.
/// </summary>
abstract class RuleWalker<TPath> where TPath : class
{
    protected abstract record Value;
    /// <summary>A value computed on the host: <paramref name="Code"/> is C# over doubles (a variable or a literal).</summary>
    protected sealed record HostValue(string Code, ValueKind Type) : Value;
    /// <summary>A value per element, held in the variable <paramref name="Name"/> (a register, or a tensor).</summary>
    protected sealed record ElementValue(string Name) : Value;
    /// <summary>A local declared but not assigned on this path.</summary>
    protected sealed record Unassigned : Value;

    protected readonly OptimizerModel Declaration;
    protected readonly UpdateModel Rule;
    protected readonly NameAllocator Variables = new();
    protected Dictionary<(VarKind Kind, string Name), Value> Env = new();
    /// <summary>Where the code of the path being walked goes.</summary>
    protected TPath Path;
    /// <summary>The names of the host variables of the hyperparameters the rule reads.</summary>
    readonly Dictionary<string, string> _hypers = new();
    /// <summary>The hoisted scalars computed so far on this path, by index.</summary>
    Dictionary<int, string> _hoisted = new();
    protected string StepVariable = "", OptionsVariable = "", StateVariable = "";

    protected RuleWalker(OptimizerModel model, UpdateModel rule, TPath path)
    {
        Declaration = model;
        Rule = rule;
        Path = path;
    }

    /// <summary>How many per-element conditions the statement being walked stands under.</summary>
    protected int PerElementDepth { get; private set; }

    /// <summary>The host code of <paramref name="path"/>.</summary>
    protected abstract CodeWriter HostOf(TPath path);

    /// <summary>The host code of the path being walked.</summary>
    protected CodeWriter HostCode => HostOf(Path);

    protected void Walk(IEnumerable<Stmt> statements)
    {
        foreach (var s in statements)
        {
            switch (s)
            {
                case Declare d:
                    Env[(d.Local.Kind, d.Local.Name)] = new Unassigned();
                    break;
                case Assign a:
                    Assign(a);
                    break;
                case If i when i.Condition.Varying:
                    PerElementIf(i);
                    break;
                case If i:
                    HostIf(i);
                    break;
            }
        }
    }

    protected abstract void Assign(Assign a);

    // A condition the same for every element: each arm on a path of its own, joined after.

    /// <summary>Writes what the target needs of a host condition before its arms; returns how the target reads it.</summary>
    protected abstract string HostCondition(If i);

    /// <summary>A new, empty path for one arm of a host condition inside <paramref name="outer"/>.</summary>
    protected abstract TPath ForkHost(TPath outer);

    /// <summary>Joins a value one arm left on the host and the other per element (or two of different types).</summary>
    protected abstract Value JoinHostArms((VarKind Kind, string Name) key, Value whenTrue, Value whenFalse, TPath then, TPath otherwise);

    /// <summary>Writes the host condition's arms into the path being walked.</summary>
    protected abstract void EndHostIf(If i, string condition, TPath then, TPath otherwise);

    /// <summary>What a target caches along a path (besides hoisted scalars): saved before a host condition, and
    /// restored for each arm and after it, so that an arm never reads what only the other computed.</summary>
    protected virtual object? SavePathCaches() => null;

    protected virtual void RestorePathCaches(object? saved, bool copy) { }

    void HostIf(If i)
    {
        var condition = HostCondition(i);
        var before = new Dictionary<(VarKind, string), Value>(Env);
        var outer = Path;
        var hoistedBefore = new Dictionary<int, string>(_hoisted);
        var cachesBefore = SavePathCaches();

        var then = Path = ForkHost(outer);
        Walk(i.Then);
        var afterThen = Env;

        Env = new Dictionary<(VarKind, string), Value>(before);
        _hoisted = new Dictionary<int, string>(hoistedBefore);
        RestorePathCaches(cachesBefore, copy: true);
        var otherwise = Path = ForkHost(outer);
        Walk(i.Else);
        var afterElse = Env;

        Path = outer;
        _hoisted = hoistedBefore;
        RestorePathCaches(cachesBefore, copy: false);
        Env = Join(before.Keys, afterThen, afterElse, (key, a, b) =>
            a is HostValue ha && b is HostValue hb && ha.Type == hb.Type
                ? JoinHostValues(key, ha, hb, then, otherwise)
                : JoinHostArms(key, a, b, then, otherwise));
        EndHostIf(i, condition, then, otherwise);
    }

    /// <summary>One host variable, declared before the arms and assigned in each.</summary>
    Value JoinHostValues((VarKind Kind, string Name) key, HostValue a, HostValue b, TPath then, TPath otherwise)
    {
        var name = Variables.Take(key.Name);
        HostCode.Line($"{HostBindings.Type(a.Type)} {name};");
        HostOf(then).Line($"{name} = {a.Code};");
        HostOf(otherwise).Line($"{name} = {b.Code};");
        return new HostValue(name, a.Type);
    }

    // A condition per element.

    /// <summary>Writes the condition and returns the paths of its two arms (and how the target reads the condition).</summary>
    protected abstract (TPath Then, TPath Otherwise, string Condition) ForkPerElement(If i);

    /// <summary>Joins a value that differs between the arms of a per-element condition.</summary>
    protected abstract Value JoinPerElementArms((VarKind Kind, string Name) key, Value whenTrue, Value whenFalse, string condition, TPath then, TPath otherwise);

    /// <summary>Writes the per-element condition's arms into the path being walked.</summary>
    protected abstract void EndPerElementIf(If i, string condition, TPath then, TPath otherwise);

    void PerElementIf(If i)
    {
        var outer = Path;
        var (then, otherwise, condition) = ForkPerElement(i);
        var before = new Dictionary<(VarKind, string), Value>(Env);
        PerElementDepth++;

        Path = then;
        Walk(i.Then);
        var afterThen = Env;

        Env = new Dictionary<(VarKind, string), Value>(before);
        Path = otherwise;
        Walk(i.Else);
        var afterElse = Env;

        PerElementDepth--;
        Path = outer;
        Env = Join(before.Keys, afterThen, afterElse, (key, a, b) => JoinPerElementArms(key, a, b, condition, then, otherwise));
        EndPerElementIf(i, condition, then, otherwise);
    }

    /// <summary>The environment after two arms: what both agree on, nothing where either left a local unassigned, else <paramref name="differ"/>.</summary>
    static Dictionary<(VarKind, string), Value> Join(IEnumerable<(VarKind, string)> keys,
        Dictionary<(VarKind, string), Value> afterThen, Dictionary<(VarKind, string), Value> afterElse,
        System.Func<(VarKind Kind, string Name), Value, Value, Value> differ)
    {
        var joined = new Dictionary<(VarKind, string), Value>();
        foreach (var key in keys.ToList())
        {
            var (a, b) = (afterThen[key], afterElse[key]);
            joined[key] = a == b ? a : a is Unassigned || b is Unassigned ? new Unassigned() : differ(key, a, b);
        }
        return joined;
    }

    // Host code, the same for every target.

    /// <summary>Takes names for the hyperparameters the rule reads (in declaration order).</summary>
    protected void NameHypers()
    {
        foreach (var h in Declaration.Hypers.Where(h => Rule.Usage.UsesHyper(h.Name))) _hypers[h.Name] = Variables.Take(h.Name);
    }

    /// <summary><c>double beta1 = options.Beta1!.Value;</c> for each hyperparameter the rule reads.</summary>
    protected void BindHypers(CodeWriter w)
    {
        foreach (var h in Declaration.Hypers.Where(h => _hypers.ContainsKey(h.Name))) w.Line(HostBindings.Hyper(h, _hypers[h.Name], OptionsVariable));
    }

    /// <summary>The parameter tensor the matrix view's shape is read from, where the target has it at hand.</summary>
    protected string? ShapeSource;

    /// <summary>C# over doubles for a host expression.</summary>
    protected string Host(Expr e) => HostExpressions.Write(e, HostName, h => HoistedName(h.Index), ShapeSource, HostCall);

    /// <summary>How host code reads a whole-tensor call's result where the target has it on the host; null elsewhere.</summary>
    protected virtual string? HostCall(Call c) => null;

    string HostName(Reference r) => r.Kind switch
    {
        VarKind.Hyper => _hypers[r.Name],
        VarKind.Step => StepVariable,
        VarKind.ScalarState => $"{StateVariable}.{Names.Pascal(r.Name)}",
        _ => Env[(r.Kind, r.Name)] switch
        {
            HostValue h => h.Code,
            var other => ElementInHostCode(r, other),
        },
    };

    /// <summary>What host code reads for a per-element value (the portable backend's tensor variable); an error elsewhere.</summary>
    protected virtual string ElementInHostCode(Reference r, Value value) =>
        throw new System.InvalidOperationException($"'{r.Name}' has no host value here");

    /// <summary>The variable of hoisted scalar <paramref name="index"/>, computed on this path when first read.</summary>
    string HoistedName(int index)
    {
        if (_hoisted.TryGetValue(index, out var name)) return name;
        var scalar = Rule.Hoisted[index];
        var code = Host(scalar.Value);
        name = Variables.Take("h" + index);
        HostCode.Line($"{HostBindings.Type(scalar.Value.Type)} {name} = {code};");
        _hoisted[index] = name;
        return name;
    }
}
