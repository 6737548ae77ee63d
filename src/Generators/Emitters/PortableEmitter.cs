using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Analysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Emits the portable backend: the update rule as TorchSharp operations on whole tensors, valid on any device.
/// </summary>
/// <remarks>
/// The rule is walked in order with an environment from each variable to its current value: a host expression
/// (C# code over doubles), or a tensor variable. Locals and the gradient are rebound, never mutated. State and the
/// parameter are updated in place where a statement is unconditional (<c>m = b * m + c * g</c> becomes
/// <c>m.mul_(b).add_(g, alpha: c)</c>); under a per-element condition both branches are computed and joined with a
/// select, then written back. A host condition (a flag, <c>t == 1</c>) becomes a C# <c>if</c>, with join variables for
/// what its branches rebind. Before a tensor is changed in place, locals that alias it are cloned.
/// </remarks>
sealed class PortableEmitter
{
    const string TensorMath = RuntimeApi.TensorMath;
    const string MatrixMath = RuntimeApi.MatrixMath;
    const string Portable = RuntimeApi.Portable;
    /// <summary>Whether the update is emitted as steps that yield whole-tensor requests (orthogonalisations, global reductions).</summary>
    bool _steps;
    const string TensorType = "global::TorchSharp.torch.Tensor";

    abstract record Value;
    sealed record HostValue(string Code, ValueKind Type) : Value;
    sealed record TensorValue(string Var) : Value;
    sealed record Unassigned : Value;

    readonly OptimizerModel _model;
    readonly NameAllocator _names = new();
    readonly Dictionary<string, string> _hyperVars = new();
    readonly Dictionary<string, string> _stateVars = new();
    CodeWriter _w;
    Dictionary<(VarKind Kind, string Name), Value> _env = new();
    Dictionary<int, string> _hoisted = new();
    int _functional;
    string _p = "", _g = "", _t = "", _options = "", _state = "";

    readonly UpdateModel _rule;

    PortableEmitter(OptimizerModel model, UpdateModel rule, CodeWriter writer)
    {
        _model = model;
        _rule = rule;
        _w = writer;
    }

    public static void Emit(OptimizerModel model, CodeWriter writer) => new PortableEmitter(model, model.Update, writer).Method();

    /// <summary>Emits the refresh rule, if the declaration has one: element by element, so always a plain method.</summary>
    public static void EmitRefresh(OptimizerModel model, CodeWriter writer)
    {
        if (model.Refresh is { } refresh) new PortableEmitter(model, refresh, writer).RefreshMethod();
    }

    void RefreshMethod()
    {
        var refresh = _rule;
        var used = Usage.Of(refresh);
        _g = _names.Take(refresh.GradName);
        _options = _names.Take("options");
        _state = _names.Take("state");
        Bind(used);
        _w.Doc("<summary>The refresh rule as TorchSharp operations on whole tensors, for any device.</summary>");
        _w.Open($"protected override void Refresh(Options {_options}, {TensorType} {_g}, State {_state})");
        BindValues(used);
        _env[(VarKind.Grad, refresh.GradName)] = new TensorValue(_g);
        foreach (var statement in refresh.Body) Statement(statement);
        _w.Close();
        _w.Line();
        _w.Doc("<inheritdoc/>");
        _w.Line("protected override bool HasRefresh => true;");
    }

    void Bind(Usage used)
    {
        foreach (var h in _model.Hypers.Where(h => used.Hypers.Contains(h.Name))) _hyperVars[h.Name] = _names.Take(h.Name);
        foreach (var s in _model.States.Where(s => used.States.Contains(s.Name))) _stateVars[s.Name] = _names.Take(s.Name);
    }

    void BindValues(Usage used)
    {
        foreach (var h in _model.Hypers.Where(h => _hyperVars.ContainsKey(h.Name)))
        {
            _w.Line(HostBindings.Hyper(h, _hyperVars[h.Name], _options));
        }
        if (used.Step) _w.Line($"long {_t} = {_state}.Step;");
        foreach (var s in _model.States.Where(s => _stateVars.ContainsKey(s.Name)))
        {
            var suffix = s.OnlyIf is null ? "" : "!";
            var note = s.OnlyIf is null ? "" : $" // null unless {s.OnlyIf}; used only where {s.OnlyIf} holds";
            _w.Line($"{TensorType} {_stateVars[s.Name]} = {_state}.{Names.Pascal(s.Name)}{suffix};{note}");
            _env[(VarKind.State, s.Name)] = new TensorValue(_stateVars[s.Name]);
        }
    }

    void Method()
    {
        var update = _rule;
        var used = Usage.Of(update);
        _p = _names.Take(update.ParamName);
        _g = _names.Take(update.GradName);
        _options = _names.Take("options");
        _state = _names.Take("state");
        if (used.Step) _t = _names.Take(update.StepName ?? "t");
        Bind(used);

        // A rule with matrix work or global reductions becomes steps that yield each such request, so the runtime can
        // answer them across tensors (one batched chain per shape, one reduction over all); Update runs one tensor alone.
        _steps = used.WholeTensor.Any(f => f.NeedsSteps());
        var parameters = $"Options {_options}, {TensorType} {_p}, {TensorType} {_g}, State {_state}";
        if (_steps)
        {
            _w.Doc("<summary>The update rule as TorchSharp operations on whole tensors: the portable backend, for any device.</summary>");
            _w.Line($"protected override void Update({parameters}) => {Portable}.StepRunner.RunAlone(UpdateSteps({_options}, {_p}, {_g}, {_state}));");
            _w.Line();
            // Global reductions need every tensor of the step in lockstep; matrix work only needs same-shaped ones.
            var kind = used.WholeTensor.Any(f => f.IsGlobal()) ? "AllTensors" : "PerShape";
            _w.Doc("<inheritdoc/>");
            _w.Line($"protected override {Portable}.UpdateStepsKind StepsKind => {Portable}.UpdateStepsKind.{kind};");
            _w.Line();
            _w.Doc("<summary>The portable update as steps, yielding each whole-tensor request for the runtime to answer across tensors.</summary>");
            _w.Open($"protected override global::System.Collections.Generic.IEnumerable<{Portable}.WholeTensorRequest> UpdateSteps({parameters})");
        }
        else
        {
            _w.Doc("<summary>The update rule as TorchSharp operations on whole tensors: the portable backend, for any device.</summary>");
            _w.Open($"protected override void Update({parameters})");
        }
        BindValues(used);
        _env[(VarKind.Param, update.ParamName)] = new TensorValue(_p);
        _env[(VarKind.Grad, update.GradName)] = new TensorValue(_g);

        foreach (var statement in update.Body) Statement(statement);
        if (_steps) _w.Line("yield break;");
        _w.Close();
    }

    void Statement(Stmt statement)
    {
        switch (statement)
        {
            case Declare d:
                _env[(d.Local.Kind, d.Local.Name)] = new Unassigned();
                break;
            case Assign a:
                _w.Line("// " + a.Source);
                Assign(a.Target, a.Value);
                break;
            case If i when i.Condition.Varying:
                VaryingIf(i);
                break;
            case If i:
                HostIf(i);
                break;
        }
    }

    void Assign(Target target, Expr value)
    {
        var key = (target.Kind, target.Name);
        switch (target.Kind)
        {
            case VarKind.Local:
            case VarKind.Grad:
                var v = Evaluate(value, target.Name);
                if (v is HostValue h)
                {
                    var name = _names.Take(target.Name);
                    _w.Line($"{HostBindings.Type(h.Type)} {name} = {h.Code};");
                    v = new HostValue(name, h.Type);
                }
                _env[key] = v;
                break;
            case VarKind.ScalarState when value.Varying:
                // A value uniform over the tensor but computed on the device (from reductions): one host read here.
                _w.Line($"{_state}.{Names.Pascal(target.Name)} = {Tensor(value)}.to(global::TorchSharp.torch.ScalarType.Float64).item<double>();");
                break;
            case VarKind.ScalarState:
                _w.Line($"{_state}.{Names.Pascal(target.Name)} = {Host(value)};");
                break;
            default:
                if (_functional > 0) _env[key] = Evaluate(value, target.Name);
                else if (!TryLinearUpdate(target, value)) Write(key, Evaluate(value, target.Name));
                break;
        }
    }

    /// <summary>Writes a new value into a state or parameter tensor in place.</summary>
    void Write((VarKind Kind, string Name) key, Value value)
    {
        var handle = Handle(key);
        ProtectAliases(handle, key);
        switch (value)
        {
            case TensorValue t when t.Var == handle:
                break;
            case TensorValue t:
                _w.Line($"{handle}.copy_({t.Var});");
                break;
            case HostValue h:
                _w.Line($"{handle}.fill_({h.Code});");
                break;
        }
        _env[key] = new TensorValue(handle);
    }

    string Handle((VarKind Kind, string Name) key) => key.Kind == VarKind.Param ? _p : _stateVars[key.Name];

    /// <summary>
    /// <c>X = s * X + r</c>, <c>X = X / s - r</c>, <c>X = X * s</c> and the like become one chain of in-place
    /// operations on X, with <c>add_(t, alpha)</c>, <c>addcmul_</c> and <c>addcdiv_</c> for the usual shapes of r.
    /// </summary>
    bool TryLinearUpdate(Target target, Expr value)
    {
        bool IsSelf(Expr e) => e is Reference r && r.Kind == target.Kind && r.Name == target.Name;
        bool Linear(Expr e, out Expr? scale, out bool divide)
        {
            (scale, divide) = (null, false);
            switch (e)
            {
                case var _ when IsSelf(e): return true;
                case Binary { Op: BinaryOp.Multiply } m when IsSelf(m.Left): (scale, divide) = (m.Right, false); return true;
                case Binary { Op: BinaryOp.Multiply } m when IsSelf(m.Right): (scale, divide) = (m.Left, false); return true;
                case Binary { Op: BinaryOp.Divide } d when IsSelf(d.Left): (scale, divide) = (d.Right, true); return true;
                default: return false;
            }
        }

        // X = Lerp(X, e, w): one in-place lerp_ (a value the same for every element is left to the general case).
        if (value is Call { Function: MathFunction.Lerp } lerp && IsSelf(lerp.Arguments[0]) && lerp.Arguments[1].Varying)
        {
            var end = Tensor(lerp.Arguments[1]);
            var weight = Code(Evaluate(lerp.Arguments[2]));
            var self = Handle((target.Kind, target.Name));
            ProtectAliases(self, (target.Kind, target.Name));
            _w.Line($"{self}.lerp_({end}, {weight});");
            return true;
        }

        Expr? scale, addend = null;
        bool divide, negative = false;
        if (value is Binary { Op: BinaryOp.Add or BinaryOp.Subtract } b && Linear(b.Left, out scale, out divide))
            (addend, negative) = (b.Right, b.Op == BinaryOp.Subtract);
        else if (value is Binary { Op: BinaryOp.Add } sum && Linear(sum.Right, out scale, out divide))
            addend = sum.Left;
        else if (!(Linear(value, out scale, out divide) && scale is not null))
            return false;

        // A scaled X must not be read again by the addend: the chain would see X already scaled.
        if (scale is not null && addend is not null && Reads(addend, target)) return false;

        var scaleValue = scale is null ? null : Evaluate(scale);
        var scaleCode = scaleValue is null ? "" : $".{(divide ? "div_" : "mul_")}({Code(scaleValue)})";
        var addendCall = addend is null ? "" : "." + AddendCall(addend, negative);
        var handle = Handle((target.Kind, target.Name));
        ProtectAliases(handle, (target.Kind, target.Name));
        // Scaling by exactly 1 (weight decay 0) leaves every value as it is: skip the pass over the tensor.
        var skip = addend is null && scaleValue is HostValue one ? $"if ({one.Code} != 1) " : "";
        _w.Line($"{skip}{handle}{scaleCode}{addendCall};");
        return true;
    }

    string AddendCall(Expr r, bool negative)
    {
        string Signed(string code) => negative ? $"-({code})" : code;
        if (!r.Varying) return $"{(negative ? "sub_" : "add_")}({Host(r)})";
        switch (r)
        {
            case Binary { Op: BinaryOp.Multiply, Left: var a, Right: var b } when !a.Varying:
                return Fused(b, a);
            case Binary { Op: BinaryOp.Multiply, Left: var a, Right: var b } when !b.Varying:
                return Fused(a, b);
            case Binary { Op: BinaryOp.Multiply, Left: Binary { Op: BinaryOp.Multiply, Left: var h, Right: var t1 }, Right: var t2 }
                when !h.Varying && t1.Varying && t2.Varying:
                return $"addcmul_({Tensor(t1)}, {Tensor(t2)}, value: {Signed(Host(h))})";
            case Binary { Op: BinaryOp.Multiply, Left: Binary { Op: BinaryOp.Multiply, Left: var t1, Right: var h }, Right: var t2 }
                when !h.Varying && t1.Varying && t2.Varying:
                return $"addcmul_({Tensor(t1)}, {Tensor(t2)}, value: {Signed(Host(h))})";
            case Binary { Op: BinaryOp.Multiply, Left: var a, Right: var b }:
                return $"addcmul_({Tensor(a)}, {Tensor(b)}, value: {Signed("1")})";
            case Binary { Op: BinaryOp.Divide, Left: Binary { Op: BinaryOp.Multiply, Left: var h, Right: var t1 }, Right: var t2 }
                when !h.Varying && t1.Varying && t2.Varying:
                return $"addcdiv_({Tensor(t1)}, {Tensor(t2)}, value: {Signed(Host(h))})";
            case Binary { Op: BinaryOp.Divide, Left: var t1, Right: var t2 } when t1.Varying && t2.Varying:
                return $"addcdiv_({Tensor(t1)}, {Tensor(t2)}, value: {Signed("1")})";
            default:
                return $"{(negative ? "sub_" : "add_")}({Tensor(r)})";
        }

        // h * t, or h * t1 * t2 as one addcmul_.
        string Fused(Expr varying, Expr host)
        {
            if (varying is Binary { Op: BinaryOp.Multiply, Left: var x, Right: var y } && x.Varying && y.Varying)
                return $"addcmul_({Tensor(x)}, {Tensor(y)}, value: {Signed(Host(host))})";
            return $"add_({Tensor(varying)}, alpha: {Signed(Host(host))})";
        }
    }

    void VaryingIf(If i)
    {
        _w.Line($"// {i.Source}: per element, both branches computed and selected");
        var condition = Tensor(i.Condition);
        var before = new Dictionary<(VarKind, string), Value>(_env);
        _functional++;
        foreach (var s in i.Then) Statement(s);
        var afterThen = _env;
        _env = new Dictionary<(VarKind, string), Value>(before);
        foreach (var s in i.Else) Statement(s);
        var afterElse = _env;
        _functional--;

        _env = new Dictionary<(VarKind, string), Value>();
        foreach (var key in before.Keys)
        {
            var (a, b) = (afterThen[key], afterElse[key]);
            if (a == b) _env[key] = a;
            else if (a is Unassigned || b is Unassigned) _env[key] = new Unassigned();
            else
            {
                var second = b is HostValue && a is HostValue ? AsTensor(b) : Code(b);
                _env[key] = Temp($"{TensorMath}.Select({condition}, {Code(a)}, {second})", key.Item2);
            }
        }
        if (_functional == 0) WriteBack();
    }

    /// <summary>Writes state and parameter values computed under per-element conditions back into their tensors.</summary>
    void WriteBack()
    {
        var pending = _env.Where(e => e.Key.Kind is VarKind.State or VarKind.Param && e.Value != new TensorValue(Handle(e.Key))).ToList();
        var overwritten = new HashSet<string>(pending.Select(e => Handle(e.Key)));
        foreach (var (key, value) in pending.Select(e => (e.Key, e.Value)).ToList())
        {
            // The new value may be another tensor's old value that is about to be overwritten too.
            if (value is TensorValue t && overwritten.Contains(t.Var)) _env[key] = Temp($"{t.Var}.clone()", key.Item2);
        }
        foreach (var key in pending.Select(e => e.Key)) Write(key, _env[key]);
    }

    void HostIf(If i)
    {
        var condition = Host(i.Condition);
        var before = new Dictionary<(VarKind, string), Value>(_env);
        var hoistedBefore = new Dictionary<int, string>(_hoisted);
        var outer = _w;

        var thenWriter = _w = new CodeWriter();
        foreach (var s in i.Then) Statement(s);
        var afterThen = _env;

        _env = new Dictionary<(VarKind, string), Value>(before);
        _hoisted = new Dictionary<int, string>(hoistedBefore);
        var elseWriter = _w = new CodeWriter();
        foreach (var s in i.Else) Statement(s);
        var afterElse = _env;

        _w = outer;
        _hoisted = hoistedBefore;
        _env = new Dictionary<(VarKind, string), Value>();
        foreach (var key in before.Keys)
        {
            var (a, b) = (afterThen[key], afterElse[key]);
            if (a == b) { _env[key] = a; continue; }
            if (a is Unassigned || b is Unassigned) { _env[key] = new Unassigned(); continue; }
            var name = _names.Take(key.Item2);
            if (a is HostValue ha && b is HostValue hb && ha.Type == hb.Type)
            {
                _w.Line($"{HostBindings.Type(ha.Type)} {name};");
                thenWriter.Line($"{name} = {ha.Code};");
                elseWriter.Line($"{name} = {hb.Code};");
                _env[key] = new HostValue(name, ha.Type);
            }
            else
            {
                _w.Line($"{TensorType} {name};");
                thenWriter.Line($"{name} = {AsTensor(a)};");
                elseWriter.Line($"{name} = {AsTensor(b)};");
                _env[key] = new TensorValue(name);
            }
        }

        _w.Open($"if ({condition})");
        _w.Append(thenWriter);
        _w.Close();
        if (elseWriter.ToString().Length > 0)
        {
            _w.Open("else");
            _w.Append(elseWriter);
            _w.Close();
        }
    }

    Value Evaluate(Expr e, string? hint = null)
    {
        if (!e.Varying) return new HostValue(Host(e), e.Type);
        switch (e)
        {
            case Reference r:
                // A local given a host value under a per-element condition is uniform there; as a varying value
                // it is a 0-d tensor, which broadcasts.
                var bound = _env[(r.Kind, r.Name)];
                return bound is HostValue ? Temp(AsTensor(bound), hint ?? r.Name) : bound;
            case Unary u:
                return Temp($"{Tensor(u.Operand)}.{(u.Op == UnaryOp.Negate ? "neg" : "logical_not")}()", hint);
            case Binary b:
                return Temp(BinaryCode(b), hint);
            case Call c:
                return CallValue(c, hint);
            case Select s when s.Condition.Varying:
            {
                var condition = Tensor(s.Condition);
                var a = Evaluate(s.WhenTrue);
                var b = Evaluate(s.WhenFalse);
                var second = a is HostValue && b is HostValue ? AsTensor(b) : Code(b);
                return Temp($"{TensorMath}.Select({condition}, {Code(a)}, {second})", hint);
            }
            case Select s:
                return Temp($"{Host(s.Condition)} ? {AsTensor(Evaluate(s.WhenTrue))} : {AsTensor(Evaluate(s.WhenFalse))}", hint);
            case Convert c:
                return Evaluate(c.Operand, hint);
            default:
                throw new System.ArgumentOutOfRangeException(nameof(e), e.GetType().Name);
        }
    }

    string BinaryCode(Binary b)
    {
        var (l, r) = (Evaluate(b.Left), Evaluate(b.Right));
        switch (b.Op)
        {
            case BinaryOp.Add or BinaryOp.Subtract or BinaryOp.Multiply or BinaryOp.Divide or BinaryOp.Remainder:
            {
                var method = b.Op switch
                {
                    BinaryOp.Add => "add", BinaryOp.Subtract => "sub", BinaryOp.Multiply => "mul", BinaryOp.Divide => "div", _ => "fmod",
                };
                if (l is TensorValue lt) return $"{lt.Var}.{method}({Code(r)})";
                var host = Code(l);
                var tensor = Code(r);
                return b.Op switch
                {
                    BinaryOp.Add => $"{tensor}.add({host})",
                    BinaryOp.Multiply => $"{tensor}.mul({host})",
                    BinaryOp.Subtract => $"{TensorMath}.Sub({host}, {tensor})",
                    BinaryOp.Divide => $"{TensorMath}.Div({host}, {tensor})",
                    _ => $"{TensorMath}.AsTensor({host}, {tensor}).fmod({tensor})",
                };
            }
            case BinaryOp.And or BinaryOp.Or:
            {
                var method = b.Op == BinaryOp.And ? "And" : "Or";
                if (l is TensorValue lt && r is TensorValue rt) return $"{lt.Var}.logical_{method.ToLowerInvariant()}({rt.Var})";
                return l is TensorValue only ? $"{TensorMath}.{method}({only.Var}, {Code(r)})" : $"{TensorMath}.{method}({Code(r)}, {Code(l)})";
            }
            default:
            {
                var (method, flipped) = b.Op switch
                {
                    BinaryOp.Less => ("lt", "gt"),
                    BinaryOp.LessEqual => ("le", "ge"),
                    BinaryOp.Greater => ("gt", "lt"),
                    BinaryOp.GreaterEqual => ("ge", "le"),
                    BinaryOp.Equal => ("eq", "eq"),
                    _ => ("ne", "ne"),
                };
                return l is TensorValue lt ? $"{lt.Var}.{method}({Code(r)})" : $"{Code(r)}.{flipped}({Code(l)})";
            }
        }
    }

    Value CallValue(Call c, string? hint)
    {
        var args = c.Arguments.Select(a => Evaluate(a)).ToArray();
        string Unary(string method) => $"{Code(args[0])}.{method}()";
        string code;
        switch (c.Function)
        {
            case MathFunction.Square:
                code = $"{Code(args[0])}.mul({Code(args[0])})";
                break;
            case MathFunction.Min or MathFunction.Max:
                code = $"{TensorMath}.{c.Function}({Code(args[0])}, {Code(args[1])})";
                break;
            case MathFunction.Pow:
                code = args[0] is TensorValue b ? $"{b.Var}.pow({Code(args[1])})" : $"{TensorMath}.Pow({Code(args[0])}, {Code(args[1])})";
                break;
            case MathFunction.Clamp:
                code = args[1] is HostValue && args[2] is HostValue
                    ? $"{TensorMath}.Clamp({Code(args[0])}, {Code(args[1])}, {Code(args[2])})"
                    : $"{TensorMath}.Clamp({AsTensor(args[0])}, {AsTensor(args[1])}, {AsTensor(args[2])})";
                break;
            case MathFunction.Lerp:
                code = $"{TensorMath}.Lerp({AsTensor(args[0])}, {AsTensor(args[1])}, {Code(args[2])})";
                break;
            case MathFunction.MatrixNewtonSchulz:
            {
                var request = _names.Take("request");
                _w.Line($"var {request} = new {Portable}.MatrixRequest({Code(args[0])}, {_p}, {Code(args[1])}, {Code(args[2])}, {Code(args[3])}, {Code(args[4])});");
                _w.Line($"yield return {request};");
                code = $"{request}.Result";
                break;
            }
            case var line when line.IsRowOrColumn():
                code = $"{MatrixMath}.{line.ToString().Substring("Matrix".Length)}({Code(args[0])}, {_p})";
                break;
            case var global when global.IsGlobal():
            {
                var request = _names.Take("request");
                var reduction = global.ToString().Substring(global.IsPerGroup() ? "Group".Length : "Global".Length);
                // A group's options object is shared by its tensors: it names the group the reduction spans.
                var scope = global.IsPerGroup() ? _options : "null";
                _w.Line($"var {request} = new {Portable}.GlobalRequest({Portable}.GlobalReduction.{reduction}, {Code(args[0])}, {_p}, {scope});");
                _w.Line($"yield return {request};");
                code = $"{request}.Result";
                break;
            }
            case var reduction when reduction.IsReduction():
                // A 0-d tensor on the parameter's device: no host synchronisation, and it broadcasts where it is read.
                code = $"{TensorMath}.{reduction}({Code(args[0])}, {_p})";
                break;
            case MathFunction.FusedMultiplyAdd:
                var product = new Binary(BinaryOp.Multiply, c.Arguments[0], c.Arguments[1], ValueKind.Real);
                return Evaluate(new Binary(BinaryOp.Add, product, c.Arguments[2], ValueKind.Real), hint);
            default:
                code = Unary(c.Function switch
                {
                    MathFunction.Sqrt => "sqrt", MathFunction.Rsqrt => "rsqrt", MathFunction.Abs => "abs",
                    MathFunction.Sign => "sign", MathFunction.Exp => "exp", MathFunction.Log => "log",
                    MathFunction.Log2 => "log2", MathFunction.Log10 => "log10", MathFunction.Tanh => "tanh",
                    MathFunction.Sin => "sin", MathFunction.Cos => "cos", MathFunction.Tan => "tan",
                    MathFunction.Atan => "atan", MathFunction.Floor => "floor", MathFunction.Ceiling => "ceil",
                    MathFunction.Round => "round", MathFunction.Truncate => "trunc", MathFunction.Sigmoid => "sigmoid",
                    _ => throw new System.ArgumentOutOfRangeException(nameof(c), c.Function.ToString()),
                });
                break;
        }
        return Temp(code, hint);
    }

    /// <summary>Whether <paramref name="e"/> reads the variable that <paramref name="target"/> writes.</summary>
    static bool Reads(Expr e, Target target) => e switch
    {
        Reference r => r.Kind == target.Kind && r.Name == target.Name,
        Unary u => Reads(u.Operand, target),
        Binary b => Reads(b.Left, target) || Reads(b.Right, target),
        Call c => c.Arguments.Any(a => Reads(a, target)),
        Select s => Reads(s.Condition, target) || Reads(s.WhenTrue, target) || Reads(s.WhenFalse, target),
        Convert c => Reads(c.Operand, target),
        _ => false,
    };

    /// <summary>Before <paramref name="handle"/> changes in place, locals bound to it get their own copy.</summary>
    void ProtectAliases(string handle, (VarKind, string) owner)
    {
        foreach (var key in _env.Keys.ToList())
        {
            if (key.Equals(owner) || _env[key] is not TensorValue t || t.Var != handle) continue;
            if (key.Item1 is VarKind.State or VarKind.Param && Handle(key) == handle) continue;
            _env[key] = Temp($"{handle}.clone()", key.Item2);
        }
    }

    TensorValue Temp(string code, string? hint)
    {
        var name = _names.Take(hint ?? "tmp");
        _w.Line($"var {name} = {code};");
        return new TensorValue(name);
    }

    string Tensor(Expr e) => Code(Evaluate(e));

    string Code(Value v) => v switch
    {
        TensorValue t => t.Var,
        HostValue h => h.Code,
        _ => throw new System.InvalidOperationException("read of an unassigned local"),
    };

    string AsTensor(Value v) => v is HostValue h ? $"{TensorMath}.AsTensor({h.Code}, {_p})" : Code(v);

    string Host(Expr e) => HostExpressions.Write(e, HostName, h => HoistedName(h.Index), Shape);

    /// <summary>The matrix view's rows (<c>shape[0]</c>) or columns (the rest of the elements), read on the host.</summary>
    string Shape(MathFunction f) => f == MathFunction.MatrixRows ? $"((double){MatrixMath}.RowCount({_p}))" : $"((double){MatrixMath}.ColumnCount({_p}))";

    string HostName(Reference r) => r.Kind switch
    {
        VarKind.Hyper => _hyperVars[r.Name],
        VarKind.Step => _t,
        VarKind.ScalarState => $"{_state}.{Names.Pascal(r.Name)}",
        _ => Code(_env[(r.Kind, r.Name)]),
    };

    string HoistedName(int index)
    {
        if (_hoisted.TryGetValue(index, out var name)) return name;
        var scalar = _rule.Hoisted[index];
        var code = Host(scalar.Value);
        name = _names.Take("h" + index);
        _w.Line($"{HostBindings.Type(scalar.Value.Type)} {name} = {code};");
        _hoisted[index] = name;
        return name;
    }

}
