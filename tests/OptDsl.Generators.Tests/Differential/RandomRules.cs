using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace OptDsl.Generators.Tests.Differential;

/// <summary>A random, well-formed declaration: its class name, its rule in the test's syntax, and its C# source.</summary>
public sealed record RandomRule(string ClassName, bool WholeTensor, Statement[] Body, string Source)
{
    /// <summary>
    /// A rule whose whole-tensor work is only reductions the fused backends split into phases (per tensor, over the
    /// step or a group, feeding scalar state too; no row or column work): it runs fused as well as portable.
    /// </summary>
    public bool Phased { get; init; }

    /// <summary>A phased rule that also orthogonalises (<c>Matrix.NewtonSchulz</c> between phases): it runs on matrices.</summary>
    public bool Matrix { get; init; }

    /// <summary>The state the rule declares (row and column state only in whole-tensor rules that are not phased).</summary>
    public string[] States => RuleGenerator.States(WholeTensor && !Phased);
}

/// <summary>
/// Writes random update rules that the generator must accept, built to reach every construct the emitters have:
/// each arithmetic operator and comparison with the per-element value on the left, on the right and on both sides;
/// per-element branches nested in each other with else and else-if; host branches (hyperparameters, the step,
/// scalar state) around and inside them; locals declared before a branch and assigned in both arms; the update shapes
/// the portable backend turns into in-place chains (<c>m = b*m + c*g</c>, <c>p -= h*x/y</c>, <c>lerp</c>...); every
/// function of the intrinsics table; state of every kind; scalar state set on the host and (whole-tensor rules) from
/// a reduction. Constructs not yet used are preferred, so a few dozen rules cover all of them (<see cref="Coverage"/>).
/// Values are kept finite and bounded: divisors, roots and logarithms get arguments away from zero, exponentials and
/// tangents bounded ones, and every write of the parameter and state a bounded value.
/// </summary>
public sealed class RuleGenerator
{
    /// <summary>Every elementwise function of the intrinsics table, with how a rule may spell it.</summary>
    public static readonly (string Function, string[] Spellings)[] Elementwise =
    {
        ("Sqrt", new[] { "MathF.Sqrt" }), ("Rsqrt", new[] { "OptMath.Rsqrt" }), ("Abs", new[] { "MathF.Abs" }),
        ("Sign", new[] { "OptMath.Sign" }), ("Min", new[] { "MathF.Min" }), ("Max", new[] { "MathF.Max" }),
        ("Pow", new[] { "MathF.Pow" }), ("Exp", new[] { "MathF.Exp" }), ("Log", new[] { "MathF.Log" }),
        ("Log2", new[] { "MathF.Log2" }), ("Log10", new[] { "MathF.Log10" }), ("Tanh", new[] { "MathF.Tanh" }),
        ("Sin", new[] { "MathF.Sin" }), ("Cos", new[] { "MathF.Cos" }), ("Tan", new[] { "MathF.Tan" }),
        ("Atan", new[] { "MathF.Atan" }), ("Floor", new[] { "MathF.Floor" }), ("Ceiling", new[] { "MathF.Ceiling" }),
        ("Round", new[] { "MathF.Round" }), ("Truncate", new[] { "MathF.Truncate" }), ("Square", new[] { "OptMath.Square" }),
        ("Sigmoid", new[] { "OptMath.Sigmoid" }), ("Clamp", new[] { "OptMath.Clamp", "Math.Clamp" }),
        ("Lerp", new[] { "OptMath.Lerp" }), ("FusedMultiplyAdd", new[] { "MathF.FusedMultiplyAdd" }),
    };

    /// <summary>Every whole-tensor function of the intrinsics table (whole-tensor rules only; the portable path runs them).</summary>
    public static readonly string[] WholeTensorFunctions =
    {
        "Reduce.Sum", "Reduce.Mean", "Reduce.Max", "Reduce.Min", "Reduce.MaxAbs", "Reduce.Norm", "Reduce.Var", "Reduce.Std", "Reduce.Rms",
        "Reduce.GlobalSum", "Reduce.GlobalNorm", "Reduce.GlobalMaxAbs", "Reduce.GroupSum", "Reduce.GroupNorm", "Reduce.GroupMaxAbs",
        "Matrix.NewtonSchulz", "Matrix.Rows", "Matrix.Columns",
        "Matrix.RowSum", "Matrix.RowMean", "Matrix.RowNorm", "Matrix.ColumnSum", "Matrix.ColumnMean", "Matrix.ColumnNorm",
    };

    static readonly string[] ArithmeticOps = { "+", "-", "*", "/", "%" };
    static readonly string[] ComparisonOps = { "<", "<=", ">", ">=", "==", "!=" };
    static readonly string[] LogicalOps = { "&&", "||" };
    static readonly string[] Sides = { "VV", "VH", "HV" };

    /// <summary>Update shapes of a parameter or state write (the portable backend has an in-place chain for most).</summary>
    static readonly string[] UpdateShapes =
    {
        "ema", "scale-add", "add-scaled", "divide-sub", "scale", "divide", "addcmul-host", "addcmul-host-right",
        "addcdiv-host", "addcmul", "addcdiv", "lerp", "add-host", "sub-host", "times-element", "plain", "sub-scaled",
    };

    /// <summary>Everything a set of rules must contain for the differential test to have reached each construct.</summary>
    public static IEnumerable<string> Required(bool wholeTensor)
    {
        foreach (var op in ArithmeticOps.Concat(ComparisonOps).Concat(LogicalOps))
            foreach (var side in Sides)
                yield return $"op {op} {side}";
        foreach (var (f, _) in Elementwise) yield return "call " + f;
        foreach (var f in new[] { "Pow", "Min", "Max", "Clamp", "Lerp", "FusedMultiplyAdd" })
            foreach (var side in new[] { "element first", "host first" })
                yield return $"call {f} {side}";
        foreach (var shape in UpdateShapes) yield return "update " + shape;
        foreach (var c in new[]
                 {
                     "neg", "not", "ternary per element", "ternary host", "ternary of conditions", "if per element",
                     "if per element else", "if per element else if", "if per element nested in else", "if host",
                     "if host else if", "if host inside per element", "if per element inside host", "declared then assigned in both arms",
                     "scalar state on the host", "gradient reassigned", "bool local", "conditional state",
                 })
            yield return c;
        if (!wholeTensor) yield break;
        foreach (var f in WholeTensorFunctions) yield return "call " + f;
        yield return "scalar state from a reduction";
        yield return "row state";
        yield return "column state";
    }

    readonly Random _rng;
    readonly HashSet<string> _covered;
    bool _whole;
    bool _phased;

    sealed class Symbol(string name, Ty type, bool varying, bool assignable)
    {
        public string Name = name;
        public Ty Type = type;
        public bool Varying = varying;
        public bool Assignable = assignable;
    }

    readonly List<List<Symbol>> _scopes = new();
    int _perElementDepth, _nesting, _locals;

    public RuleGenerator(int seed, HashSet<string> covered)
    {
        _rng = new Random(seed);
        _covered = covered;
    }

    /// <summary>The hyperparameters of every random declaration, with the second parameter group's values.</summary>
    public static readonly (string Name, Ty Type, double First, double Second)[] Hypers =
    {
        ("lr", Ty.Real, 0.375, 0.625), ("b", Ty.Real, 1.25, 0.75), ("n", Ty.Int, 3, 2), ("flag", Ty.Bool, 1, 0),
    };

    /// <summary>State in declaration order (the index of its tensor); row and column state only in whole-tensor rules.</summary>
    public static string[] States(bool wholeTensor) => wholeTensor
        ? new[] { "m", "u", "z", "w", "o", "r", "c" }
        : new[] { "m", "u", "z", "w", "o" };

    public const double ScalarStateInitial = 0.5;

    public RandomRule Next(string className, bool wholeTensor, bool phased = false, bool matrix = false)
    {
        _whole = wholeTensor && !phased;
        _phased = phased;
        _scopes.Clear();
        _scopes.Add(new List<Symbol>
        {
            new("p", Ty.Real, true, true), new("g", Ty.Real, true, true), new("t", Ty.Int, false, false),
            new("lr", Ty.Real, false, false), new("b", Ty.Real, false, false), new("n", Ty.Int, false, false),
            new("flag", Ty.Bool, false, false), new("s", Ty.Real, false, false),
            new("m", Ty.Real, true, true), new("u", Ty.Real, true, true), new("z", Ty.Real, true, true), new("w", Ty.Real, true, true),
        });
        if (_whole) _scopes[0].AddRange(new[] { new Symbol("r", Ty.Real, true, false), new Symbol("c", Ty.Real, true, false) });
        (_perElementDepth, _nesting, _locals) = (0, 0, 0);

        var body = new List<Statement>();
        if (Chance(0.7)) body.Add(NewLocal(Ty.Real, Real(2, false)));
        if (Chance(0.6)) body.Add(ScalarStateUpdate());
        if (Chance(0.3)) { body.Add(Update("g")); Cover("gradient reassigned"); }
        if (_whole) body.AddRange(WholeTensorStatements());
        if (phased) body.AddRange(PhasedReductions());
        if (matrix) body.AddRange(PhasedMatrices());
        body.Add(NewLocal(Ty.Real, Real(2, true)));
        if (Chance(0.5)) body.Add(NewLocal(Ty.Real, Real(2, true)));
        if (Chance(0.4)) { body.Add(NewLocal(Ty.Bool, Bool(2, true))); Cover("bool local"); }
        if (Chance(0.4)) body.AddRange(DeclaredThenAssigned());

        var blocks = new List<Func<IEnumerable<Statement>>>
        {
            () => new[] { PerElementIf() },
            () => new[] { HostIf() },
            () => new[] { FlagBlock() },
        };
        if (Chance(0.5)) blocks.Add(() => new[] { PerElementIf() });
        foreach (var block in blocks.OrderBy(_ => _rng.Next())) body.AddRange(block());

        foreach (var target in new[] { "m", "u", "z", "w", "p" }.OrderBy(_ => _rng.Next())) body.Add(Update(target));
        if (Chance(0.3)) body.Add(Update("p"));

        var source = Declaration(className, _whole, body);
        return new RandomRule(className, wholeTensor, body.ToArray(), source) { Phased = phased, Matrix = matrix };
    }

    public static string Declaration(string className, bool wholeTensor, List<Statement> body)
    {
        var w = new StringBuilder();
        w.Append("using System;\nusing OptDsl;\n\nnamespace Differential;\n\n");
        w.Append("/// <summary>A random rule of the differential test.</summary>\n");
        w.Append("[Optimizer]\npublic partial class ").Append(className).Append("\n{\n");
        w.Append("    [Hyper(\"(0, 1)\")] float lr = 0.375f;\n");
        w.Append("    [Hyper(\"[0.5, 2]\")] float b = 1.25f;\n");
        w.Append("    [Hyper(\"[1, 5]\")] int n = 3;\n");
        w.Append("    [Hyper] bool flag = true;\n");
        w.Append("    [State] float m;\n");
        w.Append("    [State(Init = StateInit.FirstGradient)] float u;\n");
        w.Append("    [State(Init = StateInit.Parameter)] float z;\n");
        w.Append("    [State(InitFrom = nameof(b))] float w;\n");
        w.Append("    [State(OnlyIf = nameof(flag))] float o;\n");
        if (wholeTensor)
        {
            w.Append("    [State(Shape = StateShape.Rows)] float r;\n");
            w.Append("    [State(Shape = StateShape.Columns)] float c;\n");
        }
        w.Append("    [ScalarState] float s = 0.5f;\n\n");
        w.Append("    [Update]\n    void Update(ref float p, float g, int t)\n    {\n");
        foreach (var s in body) RuleText.Write(w, s, "        ");
        w.Append("    }\n}\n");
        return w.ToString();
    }

    // Choices.

    bool Chance(double p) => _rng.NextDouble() < p;

    T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    void Cover(string what) => _covered.Add(what);

    /// <summary>One of <paramref name="items"/>, preferring those whose coverage key is not yet covered.</summary>
    T PickUncovered<T>(IReadOnlyList<T> items, Func<T, string> key)
    {
        var missing = items.Where(i => !_covered.Contains(key(i))).ToList();
        return missing.Count > 0 && Chance(0.7) ? Pick(missing) : Pick(items);
    }

    string Sides3(string op) => PickUncovered(Sides, side => $"op {op} {side}");

    IEnumerable<Symbol> Visible => _scopes.SelectMany(s => s);

    Symbol? Find(string name) => Visible.LastOrDefault(s => s.Name == name);

    string NewName(string prefix) => prefix + ++_locals;

    Local NewLocal(Ty type, Node value)
    {
        var name = NewName(type == Ty.Bool ? "k" : "x");
        _scopes[^1].Add(new Symbol(name, type, IsVarying(value), true));
        return new Local(type, name, value);
    }

    /// <summary>Whether a node reads a per-element value (as far as this generator knows).</summary>
    bool IsVarying(Node n) => n switch
    {
        Var v => Find(v.Name) is { Varying: true } || v.Name == "o",
        Lit => false,
        Neg x => IsVarying(x.X),
        Not x => IsVarying(x.X),
        Bin b => IsVarying(b.L) || IsVarying(b.R),
        // Whole-tensor results are device values (varying), except the matrix view's shape.
        Fn f => (f.Function.StartsWith("Reduce.") || f.Function.StartsWith("Matrix.")) && f.Function is not ("Matrix.Rows" or "Matrix.Columns")
                || f.Args.Any(IsVarying),
        Cond c => IsVarying(c.C) || IsVarying(c.A) || IsVarying(c.B),
        ToFloat c => IsVarying(c.X),
        _ => false,
    };

    // Expressions.

    static readonly double[] Constants = { 0.5, 0.25, 2, 1.5, 0.75, 3, -0.5, 1 };

    Node RealLeaf(bool varying)
    {
        if (varying)
        {
            var pool = Visible.Where(s => s.Type == Ty.Real && s.Varying).ToList();
            return new Var(Pick(pool).Name, Ty.Real);
        }
        var hosts = Visible.Where(s => s.Type == Ty.Real && !s.Varying).Select(s => (Node)new Var(s.Name, Ty.Real)).ToList();
        hosts.Add(new ToFloat(new Var("t", Ty.Int)));
        hosts.Add(new ToFloat(new Var("n", Ty.Int)));
        hosts.Add(new Lit(Pick(Constants), Ty.Real));
        if (_whole && Chance(0.2))
        {
            var shape = PickUncovered(new[] { "Matrix.Rows", "Matrix.Columns" }, f => "call " + f);
            Cover("call " + shape);
            hosts.Add(new Fn(shape, shape, Array.Empty<Node>()));
            return hosts[^1];
        }
        return Pick(hosts);
    }

    Node Real(int depth, bool varying)
    {
        if (depth <= 0 || Chance(0.15)) return RealLeaf(varying);
        int kind = _rng.Next(100);
        if (kind < 40) return Arithmetic(depth, varying);
        if (kind < 78) return Call(depth, varying);
        if (kind < 84) { Cover("neg"); return new Neg(Real(depth - 1, varying)); }
        return Ternary(depth, varying);
    }

    (bool Left, bool Right) Split(string op, bool varying)
    {
        if (!varying) return (false, false);
        var side = Sides3(op);
        Cover($"op {op} {side}");
        return side switch { "VV" => (true, true), "VH" => (true, false), _ => (false, true) };
    }

    Node Arithmetic(int depth, bool varying)
    {
        var op = PickUncovered(ArithmeticOps, o => $"op {o} VV");
        var (l, r) = Split(op, varying);
        var left = Real(depth - 1, l);
        var right = op is "/" or "%" ? Positive(depth - 1, r) : Real(depth - 1, r);
        return new Bin(op, left, right, Ty.Real);
    }

    /// <summary>A value at least 0.25 (a divisor, a root's or logarithm's argument, a power's base).</summary>
    Node Positive(int depth, bool varying)
    {
        if (!varying)
            return _rng.Next(4) switch
            {
                0 => new Var("b", Ty.Real),
                1 => new Bin("+", new Var("b", Ty.Real), new Var("lr", Ty.Real), Ty.Real),
                2 => new ToFloat(new Var("t", Ty.Int)),
                _ => new Lit(2, Ty.Real),
            };
        var x = Real(Math.Max(depth, 0), true);
        return _rng.Next(3) switch
        {
            0 => new Bin("+", new Fn("Abs", "MathF.Abs", new[] { x }), new Lit(0.5, Ty.Real), Ty.Real),
            1 => new Bin("+", new Fn("Square", "OptMath.Square", new[] { x }), new Lit(0.25, Ty.Real), Ty.Real),
            _ => new Bin("-", new Lit(2, Ty.Real), new Fn("Cos", "MathF.Cos", new[] { x }), Ty.Real),
        };
    }

    /// <summary>A value within about [-2, 2].</summary>
    Node Bounded(int depth, bool varying)
    {
        var x = Real(depth, varying);
        return _rng.Next(6) switch
        {
            0 => new Fn("Tanh", "MathF.Tanh", new[] { x }),
            1 => new Fn("Atan", "MathF.Atan", new[] { x }),
            2 => new Fn("Sigmoid", "OptMath.Sigmoid", new[] { x }),
            3 => new Fn("Clamp", "OptMath.Clamp", new[] { x, new Lit(-2, Ty.Real), new Lit(2, Ty.Real) }),
            4 => new Fn("Sin", "MathF.Sin", new[] { x }),
            _ => new Bin("/", x, new Bin("+", new Lit(1, Ty.Real), new Fn("Abs", "MathF.Abs", new[] { x }), Ty.Real), Ty.Real),
        };
    }

    Node Call(int depth, bool varying)
    {
        var (function, spellings) = PickUncovered(Elementwise, e => "call " + e.Function);
        Cover("call " + function);
        var spelling = Pick(spellings);
        Node Arg(bool v) => Real(depth - 1, v);
        Node[] args;
        switch (function)
        {
            case "Sqrt" or "Rsqrt" or "Log" or "Log2" or "Log10":
                args = new[] { Positive(depth - 1, varying) };
                break;
            case "Exp":
                args = new[] { Bounded(depth - 1, varying) };
                break;
            case "Tan":
                args = new[] { new Fn("Tanh", "MathF.Tanh", new[] { Arg(varying) }) };
                break;
            case "Pow":
            {
                bool vBase = false, vExponent = false;
                if (varying)
                {
                    vBase = ElementFirst(function);
                    vExponent = !vBase || Chance(0.3);
                    Cover($"call Pow {(vBase ? "element first" : "host first")}");
                }
                var exponent = vExponent ? new Fn("Tanh", "MathF.Tanh", new[] { Arg(true) })
                    : Pick(new Node[] { new Lit(0.5, Ty.Real), new Lit(2, Ty.Real), new Lit(-0.5, Ty.Real), new Var("lr", Ty.Real) });
                args = new[] { Positive(depth - 1, vBase), exponent };
                break;
            }
            case "Min" or "Max" or "Clamp" or "Lerp" or "FusedMultiplyAdd":
            {
                int arity = function is "Min" or "Max" ? 2 : 3;
                var pattern = new bool[arity];
                if (varying)
                {
                    bool elementFirst = ElementFirst(function);
                    Cover($"call {function} {(elementFirst ? "element first" : "host first")}");
                    pattern[0] = elementFirst;
                    for (int i = 1; i < arity; i++) pattern[i] = Chance(0.4);
                    if (!elementFirst) pattern[1 + _rng.Next(arity - 1)] = true;
                }
                args = pattern.Select(Arg).ToArray();
                break;
            }
            default:
                args = new[] { Arg(varying) };
                break;
        }
        return new Fn(function, spelling, args);
    }

    bool ElementFirst(string function)
    {
        var missing = new[] { "element first", "host first" }.Where(s => !_covered.Contains($"call {function} {s}")).ToList();
        return missing.Count > 0 && Chance(0.7) ? missing[_rng.Next(missing.Count)] == "element first" : Chance(0.5);
    }

    Node Ternary(int depth, bool varying)
    {
        bool conditionVaries = varying && Chance(0.6);
        var condition = Bool(depth - 1, conditionVaries);
        bool a = varying && Chance(0.5);
        bool b = varying && (conditionVaries ? Chance(0.5) : !a || Chance(0.5));
        Cover(conditionVaries ? "ternary per element" : "ternary host");
        return new Cond(condition, Real(depth - 1, a), Real(depth - 1, b));
    }

    Node Bool(int depth, bool varying)
    {
        if (!varying && Chance(0.35)) return HostTest();
        int kind = depth <= 0 ? 0 : _rng.Next(100);
        if (kind < 55)
        {
            var op = PickUncovered(ComparisonOps, o => $"op {o} VV");
            var (l, r) = Split(op, varying);
            return new Bin(op, Real(Math.Min(depth, 2) - 1, l), Real(Math.Min(depth, 2) - 1, r), Ty.Bool);
        }
        if (kind < 75)
        {
            var op = Pick(LogicalOps);
            var (l, r) = Split(op, varying);
            return new Bin(op, Bool(depth - 1, l), Bool(depth - 1, r), Ty.Bool);
        }
        if (kind < 83) { Cover("not"); return new Not(Bool(depth - 1, varying)); }
        if (kind < 95)
        {
            var locals = Visible.Where(s => s.Type == Ty.Bool && s.Varying == varying && s.Name != "flag").ToList();
            if (locals.Count > 0) return new Var(Pick(locals).Name, Ty.Bool);
        }
        Cover("ternary of conditions");
        return new Cond(Bool(depth - 1, varying && Chance(0.5)), Bool(depth - 1, varying), Bool(depth - 1, varying && Chance(0.5)));
    }

    /// <summary>A condition on hyperparameters and the step, as rules write them.</summary>
    Node HostTest()
    {
        var t = new Var("t", Ty.Int);
        return _rng.Next(6) switch
        {
            0 => new Var("flag", Ty.Bool),
            1 => new Bin("==", t, new Lit(1, Ty.Int), Ty.Bool),
            2 => new Bin("==", new Bin("%", t, new Lit(2, Ty.Int), Ty.Int), new Lit(0, Ty.Int), Ty.Bool),
            3 => new Bin(">", new Var("lr", Ty.Real), new Lit(0.5, Ty.Real), Ty.Bool),
            4 => new Bin(">", new Var("n", Ty.Int), new Lit(2, Ty.Int), Ty.Bool),
            _ => new Bin("<", new Var("s", Ty.Real), new Lit(1, Ty.Real), Ty.Bool),
        };
    }

    // Statements.

    /// <summary>A write of a bounded value to the parameter, the gradient or state, in one of the update shapes.</summary>
    Statement Update(string target)
    {
        var shape = PickUncovered(UpdateShapes, s => "update " + s);
        Cover("update " + shape);
        Node T = new Var(target, Ty.Real);
        Node Y() => Chance(0.3) ? RealLeaf(true) : Bounded(1 + _rng.Next(2), true);
        Node H() => Pick(new Node[] { new Var("lr", Ty.Real), new Bin("-", new Lit(1, Ty.Real), new Var("lr", Ty.Real), Ty.Real), new Lit(0.5, Ty.Real) });
        Node Big() => Pick(new Node[] { new Var("b", Ty.Real), new Lit(2, Ty.Real), new Bin("+", new Var("lr", Ty.Real), new Lit(1, Ty.Real), Ty.Real) });
        Node Times(Node a, Node b) => new Bin("*", a, b, Ty.Real);
        return shape switch
        {
            "ema" => new Set(target, "=", new Bin("+", Times(new Var("lr", Ty.Real), T), Times(new Bin("-", new Lit(1, Ty.Real), new Var("lr", Ty.Real), Ty.Real), Y()), Ty.Real)),
            "scale-add" => new Set(target, "=", new Bin("+", Times(T, H()), Y(), Ty.Real)),
            "add-scaled" => new Set(target, "=", new Bin("+", Y(), Times(H(), T), Ty.Real)),
            "divide-sub" => new Set(target, "=", new Bin("-", new Bin("/", T, Big(), Ty.Real), Y(), Ty.Real)),
            "scale" => new Set(target, "*=", H()),
            "divide" => new Set(target, "/=", Big()),
            "addcmul-host" => new Set(target, "+=", Times(Times(H(), Y()), Y())),
            "addcmul-host-right" => new Set(target, "-=", Times(Times(Y(), H()), Y())),
            "addcdiv-host" => new Set(target, "-=", new Bin("/", Times(H(), Y()), Positive(1, true), Ty.Real)),
            "addcmul" => new Set(target, "+=", Times(Y(), Y())),
            "addcdiv" => new Set(target, "-=", new Bin("/", Y(), Positive(1, true), Ty.Real)),
            "lerp" => new Set(target, "=", new Fn("Lerp", "OptMath.Lerp", new[] { T, Y(), H() })),
            "add-host" => new Set(target, "+=", H()),
            "sub-host" => new Set(target, "-=", Times(H(), new Fn("Tanh", "MathF.Tanh", new[] { Real(1, false) }))),
            "times-element" => new Set(target, "=", Times(T, Bounded(1, true))),
            "plain" => new Set(target, "=", Y()),
            _ => new Set(target, "-=", Times(H(), Y())),
        };
    }

    Statement ScalarStateUpdate()
    {
        Cover("scalar state on the host");
        return _rng.Next(4) switch
        {
            0 => new Set("s", "=", new Bin("+", new Bin("*", new Var("s", Ty.Real), new Var("lr", Ty.Real), Ty.Real), new Lit(0.5, Ty.Real), Ty.Real)),
            1 => new Set("s", "+=", new Var("lr", Ty.Real)),
            2 => new Set("s", "=", new Fn("Lerp", "OptMath.Lerp", new Node[] { new Var("s", Ty.Real), Bounded(2, false), new Var("lr", Ty.Real) })),
            _ => new Set("s", "*=", new Var("lr", Ty.Real)),
        };
    }

    /// <summary><c>float x; if (c) x = a; else x = b;</c></summary>
    IEnumerable<Statement> DeclaredThenAssigned()
    {
        Cover("declared then assigned in both arms");
        var name = NewName("d");
        bool perElement = Chance(0.6);
        var condition = Bool(2, perElement);
        var a = Real(2, Chance(0.5));
        var b = Real(2, Chance(0.5));
        _scopes[^1].Add(new Symbol(name, Ty.Real, perElement || IsVarying(a) || IsVarying(b), true));
        return new Statement[] { new Local(Ty.Real, name, null), new If(condition, new Statement[] { new Set(name, "=", a) }, new Statement[] { new Set(name, "=", b) }) };
    }

    If PerElementIf()
    {
        var condition = Bool(2, true);
        Cover("if per element");
        _perElementDepth++;
        _nesting++;
        var then = Block();
        Statement[]? otherwise = null;
        switch (_rng.Next(4))
        {
            case 0:
                break;
            case 1:
                Cover("if per element else");
                otherwise = Block();
                break;
            case 2 when _nesting < 3:
                Cover("if per element else if");
                otherwise = new Statement[] { PerElementIf() };
                break;
            default:
                Cover("if per element else");
                if (_nesting < 3) Cover("if per element nested in else");
                otherwise = _nesting < 3 ? Block(forceNested: true) : Block();
                break;
        }
        _nesting--;
        _perElementDepth--;
        return new If(condition, then, otherwise);
    }

    If HostIf()
    {
        var condition = Bool(1, false);
        Cover(_perElementDepth > 0 ? "if host inside per element" : "if host");
        _nesting++;
        var then = Block();
        Statement[]? otherwise = null;
        if (Chance(0.3) && _nesting < 3) { Cover("if host else if"); otherwise = new Statement[] { HostIf() }; }
        else if (Chance(0.5)) otherwise = Block();
        _nesting--;
        return new If(condition, then, otherwise);
    }

    /// <summary><c>if (flag) { ... o ... }</c>: the only place the conditional state may be read and written.</summary>
    If FlagBlock()
    {
        Cover("conditional state");
        _nesting++;
        _scopes.Add(new List<Symbol> { new("o", Ty.Real, true, true) });
        var then = new List<Statement> { Update("o") };
        then.AddRange(Statements(_rng.Next(2)));
        if (Chance(0.7)) then.Add(Update(Pick(new[] { "p", "m" })));
        _scopes.RemoveAt(_scopes.Count - 1);
        var otherwise = Chance(0.3) ? Block() : null;
        _nesting--;
        return new If(new Var("flag", Ty.Bool), then.ToArray(), otherwise);
    }

    Statement[] Block(bool forceNested = false)
    {
        _scopes.Add(new List<Symbol>());
        var body = Statements(1 + _rng.Next(2)).ToList();
        if (forceNested) body.Add(PerElementIf());
        _scopes.RemoveAt(_scopes.Count - 1);
        return body.ToArray();
    }

    IEnumerable<Statement> Statements(int count)
    {
        for (int i = 0; i < count; i++)
        {
            int kind = _rng.Next(100);
            if (kind < 30) yield return Update(Pick(new[] { "p", "m", "u", "z", "w", "g" }));
            else if (kind < 50 && AssignableLocal() is { } local) yield return AssignLocal(local);
            else if (kind < 62) yield return NewLocal(Ty.Real, Real(2, Chance(0.7)));
            else if (kind < 74 && _nesting < 3) yield return PerElementIf();
            else if (kind < 84 && _nesting < 3) yield return HostIfWithPerElementInside();
            else if (kind < 92 && _perElementDepth == 0) yield return ScalarStateUpdate();
            else yield return Update(Pick(new[] { "p", "m" }));
        }
    }

    If HostIfWithPerElementInside()
    {
        var condition = Bool(1, false);
        Cover(_perElementDepth > 0 ? "if host inside per element" : "if host");
        _nesting++;
        _scopes.Add(new List<Symbol>());
        var then = Statements(_rng.Next(2)).ToList();
        if (_nesting < 3) { Cover("if per element inside host"); then.Add(PerElementIf()); }
        else then.Add(Update("m"));
        _scopes.RemoveAt(_scopes.Count - 1);
        var otherwise = Chance(0.4) ? Block() : null;
        _nesting--;
        return new If(condition, then.ToArray(), otherwise);
    }

    Symbol? AssignableLocal()
    {
        var locals = Visible.Where(s => s.Assignable && s.Name.Length > 1 && s.Name[0] is 'x' or 'k' or 'd').ToList();
        return locals.Count == 0 ? null : Pick(locals);
    }

    Statement AssignLocal(Symbol local)
    {
        var value = local.Type == Ty.Bool ? Bool(2, Chance(0.7)) : Real(2, Chance(0.7));
        if (_perElementDepth > 0 || IsVarying(value)) local.Varying = true;
        return new Set(local.Name, local.Type == Ty.Real && Chance(0.3) ? Pick(new[] { "+=", "-=", "*=" }) : "=", value);
    }

    // Whole-tensor work: reductions, matrix functions, row and column state (top level only).

    IEnumerable<Statement> WholeTensorStatements()
    {
        var functions = WholeTensorFunctions.Where(f => f is not ("Matrix.Rows" or "Matrix.Columns")).ToArray();
        int count = 2 + _rng.Next(3);
        for (int i = 0; i < count; i++)
        {
            var f = PickUncovered(functions.Where(f => !f.StartsWith("Matrix.Row") && !f.StartsWith("Matrix.Column")).ToArray(), x => "call " + x);
            yield return NewLocal(Ty.Real, WholeTensorCall(f));
        }
        var row = PickUncovered(new[] { "Matrix.RowSum", "Matrix.RowMean", "Matrix.RowNorm" }, x => "call " + x);
        var column = PickUncovered(new[] { "Matrix.ColumnSum", "Matrix.ColumnMean", "Matrix.ColumnNorm" }, x => "call " + x);
        Cover("row state");
        Cover("column state");
        yield return LineStateUpdate("r", row);
        yield return LineStateUpdate("c", column);
        if (Chance(0.5))
        {
            Cover("scalar state from a reduction");
            var f = PickUncovered(functions.Where(x => x.StartsWith("Reduce.")).ToArray(), x => "call " + x);
            yield return new Set("s", "=", new Fn("Tanh", "MathF.Tanh", new Node[] { new Bin("*", new Var("lr", Ty.Real), WholeTensorCall(f), Ty.Real) }));
        }
    }

    /// <summary>
    /// The reductions the fused backends run in phases, each a local; a later one may read an earlier one's local (one
    /// more phase). A variance is two (a mean, then the squared deviations); the global and group ones span tensors.
    /// </summary>
    public static readonly string[] PhasedFunctions =
    {
        "Reduce.Sum", "Reduce.Mean", "Reduce.Max", "Reduce.Min", "Reduce.MaxAbs", "Reduce.Norm", "Reduce.Rms", "Reduce.Var", "Reduce.Std",
        "Reduce.GlobalSum", "Reduce.GlobalNorm", "Reduce.GlobalMaxAbs", "Reduce.GroupSum", "Reduce.GroupNorm", "Reduce.GroupMaxAbs",
    };

    IEnumerable<Statement> PhasedReductions()
    {
        int count = 1 + _rng.Next(3);
        for (int i = 0; i < count; i++)
        {
            var f = PickUncovered(PhasedFunctions, x => "phased " + x);
            Cover("phased " + f);
            yield return NewLocal(Ty.Real, WholeTensorCall(f));
        }
        // Scalar state from a reduction: the host half runs again after each phase with the results known by then.
        if (Chance(0.5))
        {
            Cover("phased scalar state from a reduction");
            var f = PickUncovered(PhasedFunctions, x => "phased " + x);
            yield return new Set("s", "=", new Fn("Tanh", "MathF.Tanh", new Node[] { new Bin("*", new Var("lr", Ty.Real), WholeTensorCall(f), Ty.Real) }));
        }
    }

    /// <summary>One or two orthogonalisations, each a local at the top level; the second may read the first (one more phase).</summary>
    IEnumerable<Statement> PhasedMatrices()
    {
        Cover("phased Matrix.NewtonSchulz");
        int count = 1 + _rng.Next(2);
        for (int i = 0; i < count; i++) yield return NewLocal(Ty.Real, WholeTensorCall("Matrix.NewtonSchulz"));
    }

    Node WholeTensorCall(string function)
    {
        Cover("call " + function);
        var argument = Real(1 + _rng.Next(2), true);
        if (function != "Matrix.NewtonSchulz") return new Fn(function, function, new[] { argument });
        Node steps = Chance(0.5) ? new Var("n", Ty.Int) : new Lit(1 + _rng.Next(2), Ty.Int);
        return Chance(0.5)
            ? new Fn(function, function, new[] { argument, steps })
            : new Fn(function, function, new[] { argument, steps, new Lit(2, Ty.Real), new Lit(-1.5, Ty.Real), new Lit(0.5, Ty.Real) });
    }

    Statement LineStateUpdate(string state, string function)
    {
        Cover("call " + function);
        var line = new Fn(function, function, new[] { Bounded(1, true) });
        return _rng.Next(3) switch
        {
            0 => new Set(state, "=", new Bin("+", new Bin("*", new Var("lr", Ty.Real), new Var(state, Ty.Real), Ty.Real),
                new Bin("*", new Bin("-", new Lit(1, Ty.Real), new Var("lr", Ty.Real), Ty.Real), line, Ty.Real), Ty.Real)),
            1 => new Set(state, "=", new Fn("Lerp", "OptMath.Lerp", new Node[] { new Var(state, Ty.Real), line, new Var("lr", Ty.Real) })),
            _ => new Set(state, "=", new Fn("Tanh", "MathF.Tanh", new Node[] { line })),
        };
    }
}
