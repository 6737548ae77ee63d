using System;
using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Generators.Tests.Differential;

/// <summary>A parameter of the differential test: its shape and its group (0 or 1).</summary>
public sealed record TensorSpec(long[] Shape, int Group)
{
    public int Count => (int)Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The matrix view's rows (<c>shape[0]</c>) and columns (the rest).</summary>
    public int Rows => (int)Shape[0];

    public int Columns => Count / Rows;
}

/// <summary>
/// Runs a random rule in float64 over every element of every parameter at once, reading the test's own syntax of the
/// rule (not the generator's model), with the meaning C# and the DSL's documentation give each construct. Beside each
/// value it carries a first-order bound on how far a float32 computation of it may be off: every operation adds its
/// rounding (one unit of float32 roundoff of the result for + - * / and storage, eight for library functions, n for a
/// sum of n terms) to the errors of its operands scaled by the operation's derivative. Where a decision depends on a
/// difference smaller than <see cref="Slack"/> times its bound — a comparison of nearly equal values, a Floor, Round,
/// Sign or remainder at a jump — float32 code may rightly decide the other way, so the element is marked fragile and
/// left out of the comparison from then on (a reduction over a fragile element makes its whole tensor fragile).
/// </summary>
public sealed class RuleInterpreter
{
    /// <summary>float32's unit roundoff, 2^-24.</summary>
    public const double U = 1.0 / 16777216;

    /// <summary>
    /// How many times its first-order bound a float32 result may be off. The bounds add absolute errors (already a
    /// worst case over signs); the slack covers what first order leaves out and the backends' freedom to reassociate
    /// (<c>h*x/y</c> as <c>h*(x/y)</c>, fused multiply-adds, torch's lerp formula, pairwise sums).
    /// </summary>
    public const double Slack = 8;

    /// <summary>Library functions (exp, log, sin, pow, ...): within a few ulps in .NET, Sleef and libm alike.</summary>
    const double LibraryUlps = 8;

    sealed class Val(double[] v, double[] e)
    {
        public readonly double[] V = v, E = e;
    }

    readonly RandomRule _rule;
    readonly TensorSpec[] _tensors;
    readonly int[] _offset;
    readonly int _count;
    readonly int[] _tensorOf;
    readonly Dictionary<string, Val> _persistent = new();
    Dictionary<string, Val> _env = new();
    int _step;

    /// <summary>Elements whose float32 value may rightly differ from this interpreter's (see the class summary).</summary>
    public readonly bool[] Fragile;

    /// <summary>Why each fragile element became so (the first reason), for messages.</summary>
    public readonly string?[] FragileBecause;

    public RuleInterpreter(RandomRule rule, TensorSpec[] tensors, double[] parameters)
    {
        _rule = rule;
        _tensors = tensors;
        _offset = new int[tensors.Length];
        for (int k = 1; k < tensors.Length; k++) _offset[k] = _offset[k - 1] + tensors[k - 1].Count;
        _count = tensors.Sum(t => t.Count);
        _tensorOf = new int[_count];
        for (int k = 0; k < tensors.Length; k++) for (int i = 0; i < tensors[k].Count; i++) _tensorOf[_offset[k] + i] = k;
        Fragile = new bool[_count];
        FragileBecause = new string?[_count];
        _persistent["p"] = new Val((double[])parameters.Clone(), new double[_count]);
        _persistent["s"] = Uniform(RuleGenerator.ScalarStateInitial);
    }

    public int Offset(int tensor) => _offset[tensor];

    /// <summary>The value and error bound of <paramref name="name"/> (the parameter, state or scalar state) per element.</summary>
    public (double[] Value, double[] Error) Read(string name) => (_persistent[name].V, _persistent[name].E);

    /// <summary>One step with <paramref name="gradient"/> (every tensor's elements in order).</summary>
    public void Step(double[] gradient)
    {
        _step++;
        var g = new Val((double[])gradient.Clone(), new double[_count]);
        if (_step == 1)
        {
            foreach (var s in _rule.States) _persistent[s] = Uniform(0);
            _persistent["u"] = new Val((double[])gradient.Clone(), new double[_count]);
            _persistent["z"] = new Val((double[])_persistent["p"].V.Clone(), (double[])_persistent["p"].E.Clone());
            _persistent["w"] = Hyper("b");
        }
        _env = _persistent.ToDictionary(e => e.Key, e => new Val((double[])e.Value.V.Clone(), (double[])e.Value.E.Clone()));
        _env["g"] = g;
        _env["t"] = Uniform(_step);
        foreach (var h in RuleGenerator.Hypers) _env[h.Name] = Hyper(h.Name);
        Execute(_rule.Body, Enumerable.Repeat(true, _count).ToArray());
        foreach (var name in _persistent.Keys.ToList()) _persistent[name] = _env[name];
    }

    Val Uniform(double value) => new(Enumerable.Repeat(value, _count).ToArray(), new double[_count]);

    Val Hyper(string name)
    {
        var (_, _, first, second) = RuleGenerator.Hypers.Single(h => h.Name == name);
        return new Val(Enumerable.Range(0, _count).Select(i => _tensors[_tensorOf[i]].Group == 0 ? first : second).ToArray(), new double[_count]);
    }

    // Statements.

    void Execute(IEnumerable<Statement> statements, bool[] active)
    {
        foreach (var statement in statements)
        {
            switch (statement)
            {
                case Local { Value: null } l:
                    _env[l.Name] = Uniform(double.NaN);
                    break;
                case Local l:
                    _env[l.Name] = Stored(Evaluate(l.Value, active));
                    break;
                case Set s:
                {
                    var old = _env[s.Name];
                    var value = Evaluate(s.Value, active);
                    if (s.Op != "=") value = Arithmetic(s.Op.Substring(0, 1), old, value, active);
                    value = Stored(value);
                    for (int i = 0; i < _count; i++)
                        if (!active[i]) (value.V[i], value.E[i]) = (old.V[i], old.E[i]);
                    _env[s.Name] = value;
                    break;
                }
                case If f:
                {
                    var condition = Evaluate(f.C, active);
                    var then = new bool[_count];
                    var otherwise = new bool[_count];
                    for (int i = 0; i < _count; i++) (then[i], otherwise[i]) = (active[i] && condition.V[i] != 0, active[i] && condition.V[i] == 0);
                    Execute(f.Then, then);
                    if (f.Else is not null) Execute(f.Else, otherwise);
                    break;
                }
            }
        }
    }

    /// <summary>A value as a float variable holds it: one more rounding.</summary>
    static Val Stored(Val x) => new((double[])x.V.Clone(), x.V.Select((v, i) => x.E[i] + U * Math.Abs(v)).ToArray());

    // Expressions.

    Val Evaluate(Node node, bool[] active)
    {
        switch (node)
        {
            case Lit l:
                return Uniform(l.Value);
            case Var v:
                return _env[v.Name];
            case ToFloat c:
                return Evaluate(c.X, active);
            case Neg x:
            {
                var a = Evaluate(x.X, active);
                return new Val(a.V.Select(v => -v).ToArray(), a.E);
            }
            case Not x:
            {
                var a = Evaluate(x.X, active);
                return new Val(a.V.Select(v => v == 0 ? 1.0 : 0.0).ToArray(), new double[_count]);
            }
            case Cond c:
            {
                var condition = Evaluate(c.C, active);
                var a = Evaluate(c.A, active);
                var b = Evaluate(c.B, active);
                return new Val(Enumerable.Range(0, _count).Select(i => condition.V[i] != 0 ? a.V[i] : b.V[i]).ToArray(),
                    Enumerable.Range(0, _count).Select(i => condition.V[i] != 0 ? a.E[i] : b.E[i]).ToArray());
            }
            case Bin b:
                return Binary(b, active);
            case Fn f:
                return Call(f, active);
            default:
                throw new ArgumentOutOfRangeException(nameof(node));
        }
    }

    Val Binary(Bin b, bool[] active)
    {
        var l = Evaluate(b.L, active);
        var r = Evaluate(b.R, active);
        switch (b.Op)
        {
            case "+" or "-" or "*" or "/" or "%":
                return Arithmetic(b.Op, l, r, active);
            case "&&":
                return Logic(l, r, (x, y) => x && y);
            case "||":
                return Logic(l, r, (x, y) => x || y);
        }
        var v = new double[_count];
        for (int i = 0; i < _count; i++)
        {
            double x = l.V[i], y = r.V[i];
            bool result = b.Op switch
            {
                "<" => x < y, "<=" => x <= y, ">" => x > y, ">=" => x >= y, "==" => x == y, _ => x != y,
            };
            v[i] = result ? 1 : 0;
            // Booleans are exact; numbers compared within their errors of each other may compare either way in float32.
            if (b.L.Type != Ty.Bool) MarkIfAmbiguous(i, x - y, l.E[i] + r.E[i], active, b.Op);
        }
        return new Val(v, new double[_count]);
    }

    Val Logic(Val l, Val r, Func<bool, bool, bool> op) =>
        new(Enumerable.Range(0, _count).Select(i => op(l.V[i] != 0, r.V[i] != 0) ? 1.0 : 0.0).ToArray(), new double[_count]);

    Val Arithmetic(string op, Val l, Val r, bool[] active)
    {
        var v = new double[_count];
        var e = new double[_count];
        for (int i = 0; i < _count; i++)
        {
            double a = l.V[i], b = r.V[i], ea = l.E[i], eb = r.E[i];
            switch (op)
            {
                case "+":
                    v[i] = a + b;
                    e[i] = ea + eb + U * Math.Abs(v[i]);
                    break;
                case "-":
                    v[i] = a - b;
                    e[i] = ea + eb + U * Math.Abs(v[i]);
                    break;
                case "*":
                    v[i] = a * b;
                    e[i] = Math.Abs(b) * ea + Math.Abs(a) * eb + ea * eb + U * Math.Abs(v[i]);
                    break;
                case "/":
                    v[i] = a / b;
                    e[i] = Math.Abs(b) > eb ? (ea + Math.Abs(v[i]) * eb) / (Math.Abs(b) - eb) + U * Math.Abs(v[i]) : double.PositiveInfinity;
                    break;
                default:
                    // C#'s % (and torch's fmod): the remainder truncated toward zero, exact; it jumps where a / b is whole.
                    v[i] = a % b;
                    e[i] = ea + Math.Abs(Math.Truncate(a / b)) * eb;
                    double rest = Math.Abs(v[i]);
                    MarkIfAmbiguous(i, Math.Min(rest, Math.Abs(b) - rest), ea + Math.Abs(a / b) * eb, active, "%");
                    break;
            }
            if (active[i] && !double.IsFinite(v[i]) || active[i] && !double.IsFinite(e[i])) MarkFragile(i, "not finite after " + op);
        }
        return new Val(v, e);
    }

    /// <remarks>
    /// A distance of exactly zero is not ambiguous: in float64 it comes from the same computation on both sides
    /// (<c>x == x</c>, <c>MathF.Min(z, u) != MathF.Min(z, u)</c>), which float32 code computes identically too.
    /// </remarks>
    void MarkIfAmbiguous(int i, double distance, double error, bool[] active, string what)
    {
        if (distance == 0) return;
        if (active[i] && error > 0 && !(Math.Abs(distance) > Slack * error)) MarkFragile(i, $"{what} at {distance:G3} ± {error:G3}");
    }

    void MarkFragile(int i, string because)
    {
        if (!Fragile[i]) FragileBecause[i] = because;
        Fragile[i] = true;
    }

    Val Call(Fn f, bool[] active)
    {
        var args = f.Args.Select(a => Evaluate(a, active)).ToArray();
        switch (f.Function)
        {
            case "Sqrt": return Map(args[0], Math.Sqrt, (x, fx) => 1 / (2 * fx), 1);
            case "Rsqrt": return Map(args[0], x => 1 / Math.Sqrt(x), (x, fx) => fx / (2 * x), 2);
            case "Abs": return Map(args[0], Math.Abs, (_, _) => 1, 0);
            case "Exp": return Map(args[0], Math.Exp, (_, fx) => fx, LibraryUlps);
            case "Log": return Map(args[0], Math.Log, (x, _) => 1 / x, LibraryUlps);
            case "Log2": return Map(args[0], Math.Log2, (x, _) => 1 / (x * Math.Log(2)), LibraryUlps);
            case "Log10": return Map(args[0], Math.Log10, (x, _) => 1 / (x * Math.Log(10)), LibraryUlps);
            case "Tanh": return Map(args[0], Math.Tanh, (_, fx) => 1 - fx * fx, LibraryUlps);
            case "Sin": return Map(args[0], Math.Sin, (x, _) => Math.Abs(Math.Cos(x)), LibraryUlps);
            case "Cos": return Map(args[0], Math.Cos, (x, _) => Math.Abs(Math.Sin(x)), LibraryUlps);
            case "Tan": return Map(args[0], Math.Tan, (_, fx) => 1 + fx * fx, LibraryUlps);
            case "Atan": return Map(args[0], Math.Atan, (x, _) => 1 / (1 + x * x), LibraryUlps);
            case "Square": return Map(args[0], x => x * x, (x, _) => 2 * Math.Abs(x), 1);
            case "Sigmoid": return Map(args[0], x => 1 / (1 + Math.Exp(-x)), (_, fx) => fx * (1 - fx), LibraryUlps);
            case "Floor": return Step(args[0], Math.Floor, x => x - Math.Round(x), active, f.Function);
            case "Ceiling": return Step(args[0], Math.Ceiling, x => x - Math.Round(x), active, f.Function);
            case "Truncate": return Step(args[0], Math.Truncate, x => x - Math.Round(x), active, f.Function);
            // Half to even, as C#, CUDA's rintf and torch.round do; it jumps at halves.
            case "Round": return Step(args[0], x => Math.Round(x, MidpointRounding.ToEven), x => x - Math.Floor(x) - 0.5, active, f.Function);
            case "Sign": return Step(args[0], x => Math.Sign(x), x => x, active, f.Function);
            case "Min": return Elementwise(args, a => Math.Min(a[0], a[1]), (a, e) => Math.Max(e[0], e[1]));
            case "Max": return Elementwise(args, a => Math.Max(a[0], a[1]), (a, e) => Math.Max(e[0], e[1]));
            case "Clamp": return Elementwise(args, a => Math.Min(Math.Max(a[0], a[1]), a[2]), (a, e) => Math.Max(e[0], Math.Max(e[1], e[2])));
            case "Lerp":
                return Elementwise(args, a => a[0] + a[2] * (a[1] - a[0]),
                    (a, e) => Math.Abs(1 - a[2]) * e[0] + Math.Abs(a[2]) * e[1] + Math.Abs(a[1] - a[0]) * e[2]
                              + 4 * U * (Math.Abs(a[0]) + Math.Abs(a[1]) + Math.Abs(a[2] * (a[1] - a[0]))));
            case "FusedMultiplyAdd":
                return Elementwise(args, a => a[0] * a[1] + a[2],
                    (a, e) => Math.Abs(a[1]) * e[0] + Math.Abs(a[0]) * e[1] + e[0] * e[1] + e[2] + 2 * U * (Math.Abs(a[0] * a[1]) + Math.Abs(a[2])));
            case "Pow":
                return Elementwise(args, a => Math.Pow(a[0], a[1]),
                    (a, e) => Math.Abs(a[1] * Math.Pow(a[0], a[1] - 1)) * e[0] + Math.Abs(Math.Pow(a[0], a[1]) * Math.Log(a[0])) * e[1]
                              + LibraryUlps * U * Math.Abs(Math.Pow(a[0], a[1])));
            case "Matrix.Rows":
                return new Val(Enumerable.Range(0, _count).Select(i => (double)_tensors[_tensorOf[i]].Rows).ToArray(), new double[_count]);
            case "Matrix.Columns":
                return new Val(Enumerable.Range(0, _count).Select(i => (double)_tensors[_tensorOf[i]].Columns).ToArray(), new double[_count]);
            case "Matrix.NewtonSchulz":
                return NewtonSchulz(args);
        }
        if (f.Function.StartsWith("Matrix.Row", StringComparison.Ordinal))
            return Reduce(args[0], f.Function.Substring("Matrix.Row".Length), (k, i) => (k, (i - _offset[k]) / _tensors[k].Columns));
        if (f.Function.StartsWith("Matrix.Column", StringComparison.Ordinal))
            return Reduce(args[0], f.Function.Substring("Matrix.Column".Length), (k, i) => (k, (i - _offset[k]) % _tensors[k].Columns));
        if (f.Function.StartsWith("Reduce.Global", StringComparison.Ordinal))
            return Reduce(args[0], f.Function.Substring("Reduce.Global".Length), (_, _) => (0, 0));
        if (f.Function.StartsWith("Reduce.Group", StringComparison.Ordinal))
            return Reduce(args[0], f.Function.Substring("Reduce.Group".Length), (k, _) => (_tensors[k].Group, 0));
        return Reduce(args[0], f.Function.Substring("Reduce.".Length), (k, _) => (k, 0));
    }

    /// <summary>A function of one value: its derivative scales the argument's error, and it adds <paramref name="ulps"/> roundings.</summary>
    static Val Map(Val x, Func<double, double> f, Func<double, double, double> derivative, double ulps)
    {
        var v = x.V.Select(f).ToArray();
        var e = x.V.Select((a, i) => Math.Abs(derivative(a, v[i])) * x.E[i] + ulps * U * Math.Abs(v[i])).ToArray();
        return new Val(v, e);
    }

    Val Elementwise(Val[] args, Func<double[], double> f, Func<double[], double[], double> error)
    {
        var v = new double[_count];
        var e = new double[_count];
        for (int i = 0; i < _count; i++)
        {
            var a = args.Select(x => x.V[i]).ToArray();
            v[i] = f(a);
            e[i] = error(a, args.Select(x => x.E[i]).ToArray());
        }
        return new Val(v, e);
    }

    /// <summary>A piecewise-constant function: exact, but ambiguous within its argument's error of a jump (<paramref name="fromJump"/>).</summary>
    Val Step(Val x, Func<double, double> f, Func<double, double> fromJump, bool[] active, string what)
    {
        for (int i = 0; i < _count; i++) MarkIfAmbiguous(i, fromJump(x.V[i]), x.E[i], active, what);
        return new Val(x.V.Select(f).ToArray(), new double[_count]);
    }

    /// <summary>
    /// A reduction over the elements <paramref name="scope"/> puts together (a tensor, a row, a column, a group, all):
    /// every element gets its scope's value. A fragile element makes its whole scope fragile.
    /// </summary>
    Val Reduce(Val x, string kind, Func<int, int, (int, int)> scope)
    {
        var members = new Dictionary<(int, int), List<int>>();
        for (int i = 0; i < _count; i++)
        {
            var key = scope(_tensorOf[i], i);
            if (!members.TryGetValue(key, out var list)) members[key] = list = new List<int>();
            list.Add(i);
        }
        var v = new double[_count];
        var e = new double[_count];
        foreach (var list in members.Values)
        {
            var a = list.Select(i => x.V[i]).ToArray();
            var ea = list.Select(i => x.E[i]).ToArray();
            int n = a.Length;
            double sumAbs = a.Sum(Math.Abs), sumErr = ea.Sum(), value, error;
            switch (kind)
            {
                case "Sum":
                    (value, error) = (a.Sum(), sumErr + n * U * sumAbs);
                    break;
                case "Mean":
                    (value, error) = (a.Average(), (sumErr + n * U * sumAbs) / n + U * Math.Abs(a.Average()));
                    break;
                case "Max":
                    (value, error) = (a.Max(), ea.Max());
                    break;
                case "Min":
                    (value, error) = (a.Min(), ea.Max());
                    break;
                case "MaxAbs":
                    (value, error) = (a.Max(Math.Abs), ea.Max());
                    break;
                case "Norm":
                {
                    value = Math.Sqrt(a.Sum(y => y * y));
                    error = value > 0 ? a.Select((y, j) => Math.Abs(y) * ea[j]).Sum() / value + n * U * value : sumErr;
                    break;
                }
                case "Rms":
                {
                    value = Math.Sqrt(a.Sum(y => y * y) / n);
                    error = value > 0 ? a.Select((y, j) => Math.Abs(y) * ea[j]).Sum() / (n * value) + n * U * value : sumErr / n;
                    break;
                }
                default:
                {
                    // Unbiased variance (n - 1), and its square root.
                    double mean = a.Average();
                    double variance = a.Sum(y => (y - mean) * (y - mean)) / (n - 1);
                    double varianceError = a.Select((y, j) => 2 * Math.Abs(y - mean) * ea[j]).Sum() / (n - 1)
                                           + 4 * n * U * a.Sum(y => y * y) / (n - 1);
                    if (kind == "Var") (value, error) = (variance, varianceError);
                    else
                    {
                        value = Math.Sqrt(variance);
                        error = value > 0 ? varianceError / (2 * value) + U * value : Math.Sqrt(varianceError);
                    }
                    break;
                }
            }
            bool fragile = list.Any(i => Fragile[i]);
            foreach (var i in list)
            {
                (v[i], e[i]) = (value, error);
                if (fragile) MarkFragile(i, "a reduction over a fragile element");
            }
        }
        return new Val(v, e);
    }

    /// <summary>
    /// Newton–Schulz as <c>Matrix.NewtonSchulz</c> documents it, per tensor in float64. Its error bound is measured
    /// rather than derived: the result's change when the input moves by its error bound (signs at random, three tries,
    /// doubled), plus float32 rounding through the iterations, each of which can amplify it by up to |a| + |b| + |c|.
    /// </summary>
    Val NewtonSchulz(Val[] args)
    {
        var x = args[0];
        var v = new double[_count];
        var e = new double[_count];
        var signs = new Random(_step);
        for (int k = 0; k < _tensors.Length; k++)
        {
            int off = _offset[k], rows = _tensors[k].Rows, cols = _tensors[k].Columns, count = _tensors[k].Count;
            int steps = (int)args[1].V[off];
            double a = args.Length > 2 ? args[2].V[off] : 3.4445, b = args.Length > 2 ? args[3].V[off] : -4.7750, c = args.Length > 2 ? args[4].V[off] : 2.0315;
            var input = x.V.Skip(off).Take(count).ToArray();
            var inputError = x.E.Skip(off).Take(count).ToArray();
            var result = Orthogonalize(input, rows, cols, steps, a, b, c);
            var spread = new double[count];
            for (int trial = 0; trial < 3; trial++)
            {
                var moved = input.Select((y, j) => y + (signs.Next(2) == 0 ? -1 : 1) * inputError[j]).ToArray();
                var other = Orthogonalize(moved, rows, cols, steps, a, b, c);
                for (int j = 0; j < count; j++) spread[j] = Math.Max(spread[j], Math.Abs(other[j] - result[j]));
            }
            double largest = result.Max(Math.Abs);
            double rounding = 4 * (rows + cols) * U * Math.Pow(Math.Abs(a) + Math.Abs(b) + Math.Abs(c), steps) * largest;
            bool fragile = Enumerable.Range(off, count).Any(i => Fragile[i]);
            for (int j = 0; j < count; j++)
            {
                (v[off + j], e[off + j]) = (result[j], 2 * spread[j] + rounding);
                if (fragile) MarkFragile(off + j, "Newton-Schulz of a fragile element");
            }
        }
        return new Val(v, e);
    }

    static double[] Orthogonalize(double[] values, int rows, int cols, int steps, double a, double b, double c)
    {
        bool tall = rows > cols;
        int r = tall ? cols : rows, q = tall ? rows : cols;
        var x = new double[r, q];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++)
        {
            if (tall) x[j, i] = values[i * cols + j];
            else x[i, j] = values[i * cols + j];
        }
        double norm = Math.Sqrt(values.Sum(y => y * y)) + 1e-7;
        for (int i = 0; i < r; i++) for (int j = 0; j < q; j++) x[i, j] /= norm;
        for (int s = 0; s < steps; s++)
        {
            var gram = new double[r, r];
            for (int i = 0; i < r; i++) for (int j = 0; j < r; j++) for (int l = 0; l < q; l++) gram[i, j] += x[i, l] * x[j, l];
            var poly = new double[r, r];
            for (int i = 0; i < r; i++) for (int j = 0; j < r; j++)
            {
                double square = 0;
                for (int l = 0; l < r; l++) square += gram[i, l] * gram[l, j];
                poly[i, j] = b * gram[i, j] + c * square;
            }
            var next = new double[r, q];
            for (int i = 0; i < r; i++) for (int j = 0; j < q; j++)
            {
                double sum = a * x[i, j];
                for (int l = 0; l < r; l++) sum += poly[i, l] * x[l, j];
                next[i, j] = sum;
            }
            x = next;
        }
        var result = new double[rows * cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) result[i * cols + j] = tall ? x[j, i] : x[i, j];
        return result;
    }
}
