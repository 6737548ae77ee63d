using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Intrinsics;
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
sealed class PortableEmitter : RuleWalker<CodeWriter>
{
    const string TensorMath = RuntimeApi.TensorMath;
    const string Portable = RuntimeApi.Portable;
    const string TensorType = "global::TorchSharp.torch.Tensor";

    readonly Dictionary<string, string> _stateVars = new();
    string _p = "", _g = "";

    PortableEmitter(OptimizerModel model, UpdateModel rule, CodeWriter writer) : base(model, rule, writer) { }

    public static void Emit(OptimizerModel model, CodeWriter writer) => new PortableEmitter(model, model.Update, writer).Method();

    /// <summary>Emits the refresh rule, if the declaration has one: element by element, so always a plain method.</summary>
    public static void EmitRefresh(OptimizerModel model, CodeWriter writer)
    {
        if (model.Refresh is { } refresh) new PortableEmitter(model, refresh, writer).RefreshMethod();
    }

    void RefreshMethod()
    {
        _g = Variables.Take(Rule.GradName);
        OptionsVariable = Variables.Take("options");
        StateVariable = Variables.Take("state");
        NameHypersAndStates();
        Path.Doc("<summary>The refresh rule as TorchSharp operations on whole tensors, for any device.</summary>");
        Path.Open($"protected override void Refresh(Options {OptionsVariable}, {TensorType} {_g}, State {StateVariable})");
        BindValues();
        Env[(VarKind.Grad, Rule.GradName)] = new ElementValue(_g);
        WithKeptScalars(Path, () => Walk(Rule.Body));
        Path.Close();
        Path.Line();
        Path.Doc("<inheritdoc/>");
        Path.Line("protected override bool HasRefresh => true;");
    }

    void NameHypersAndStates()
    {
        NameHypers();
        foreach (var s in Declaration.States.Where(s => Rule.Usage.UsesState(s.Name))) _stateVars[s.Name] = Variables.Take(s.Name);
    }

    void BindValues()
    {
        BindHypers(Path);
        if (Rule.Usage.Step) Path.Line($"long {StepVariable} = {StateVariable}.Step;");
        foreach (var s in Declaration.States.Where(s => _stateVars.ContainsKey(s.Name)))
        {
            var suffix = s.OnlyIf is null ? "" : "!";
            var note = s.OnlyIf is null ? "" : $" // null unless {s.OnlyIf}; used only where {s.OnlyIf} holds";
            Path.Line($"{TensorType} {_stateVars[s.Name]} = {StateVariable}.{Names.Pascal(s.Name)}{suffix};{note}");
            Env[(VarKind.State, s.Name)] = new ElementValue(_stateVars[s.Name]);
        }
    }

    void Method()
    {
        _p = Variables.Take(Rule.ParamName);
        _g = Variables.Take(Rule.GradName);
        OptionsVariable = Variables.Take("options");
        StateVariable = Variables.Take("state");
        if (Rule.Usage.Step) StepVariable = Variables.Take(Rule.StepName ?? "t");
        NameHypersAndStates();
        ShapeSource = _p;

        // A rule with matrix work or global reductions becomes steps that yield each such request, so the runtime can
        // answer them across tensors (one batched chain per shape, one reduction over all); Update runs one tensor alone.
        var steps = Declaration.Work.Steps;
        var parameters = $"Options {OptionsVariable}, {TensorType} {_p}, {TensorType} {_g}, State {StateVariable}";
        var w = Path;
        if (steps != StepsKind.None)
        {
            w.Doc("<summary>The update rule as TorchSharp operations on whole tensors: the portable backend, for any device.</summary>");
            w.Line($"protected override void Update({parameters}) => {Portable}.StepRunner.RunAlone(UpdateSteps({OptionsVariable}, {_p}, {_g}, {StateVariable}));");
            w.Line();
            w.Doc("<inheritdoc/>");
            w.Line($"protected override {Portable}.UpdateStepsKind StepsKind => {Portable}.UpdateStepsKind.{steps};");
            w.Line();
            w.Doc("<summary>The portable update as steps, yielding each whole-tensor request for the runtime to answer across tensors.</summary>");
            w.Open($"protected override global::System.Collections.Generic.IEnumerable<{Portable}.WholeTensorRequest> UpdateSteps({parameters})");
        }
        else
        {
            w.Doc("<summary>The update rule as TorchSharp operations on whole tensors: the portable backend, for any device.</summary>");
            w.Open($"protected override void Update({parameters})");
        }
        BindValues();
        Env[(VarKind.Param, Rule.ParamName)] = new ElementValue(_p);
        Env[(VarKind.Grad, Rule.GradName)] = new ElementValue(_g);

        WithKeptScalars(w, () => Walk(Rule.Body));
        if (steps != StepsKind.None) w.Line("yield break;");
        w.Close();
    }

    protected override void Assign(Assign a)
    {
        Path.Line("// " + a.Source);
        Assign(a.Target, a.Value);
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
                    var name = Variables.Take(target.Name);
                    Path.Line($"{HostBindings.Type(h.Type)} {name} = {h.Code};");
                    v = new HostValue(name, h.Type);
                }
                Env[key] = v;
                break;
            case VarKind.ScalarState when value.Varying:
                // A value uniform over the tensor but computed on the device (from reductions): one host read here.
                Path.Line($"{StateVariable}.{Names.Pascal(target.Name)} = {Tensor(value)}.to(global::TorchSharp.torch.ScalarType.Float64).item<double>();");
                break;
            case VarKind.ScalarState:
                Path.Line($"{StateVariable}.{Names.Pascal(target.Name)} = {Host(value)};");
                break;
            default:
                if (PerElementDepth > 0) Env[key] = Evaluate(value, target.Name);
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
            case ElementValue t when t.Name == handle:
                break;
            case ElementValue t:
                Path.Line($"{handle}.copy_({t.Name});");
                break;
            case HostValue h:
                Path.Line($"{handle}.fill_({Kept(h.Code)});");
                break;
        }
        Env[key] = new ElementValue(handle);
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
            Path.Line($"{TensorMath}.LerpInPlace({self}, {end}, {weight});");
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
        var scaleCode = scaleValue is null ? "" : $".{(divide ? "div_" : "mul_")}({ScalarOrTensor(scaleValue)})";
        var addendCall = addend is null ? "" : "." + AddendCall(addend, negative);
        var handle = Handle((target.Kind, target.Name));
        ProtectAliases(handle, (target.Kind, target.Name));
        // Scaling by exactly 1 (weight decay 0) leaves every value as it is: skip the pass over the tensor.
        var skip = addend is null && scaleValue is HostValue one ? $"if ({one.Code} != 1) " : "";
        Path.Line($"{skip}{handle}{scaleCode}{addendCall};");
        return true;
    }

    string AddendCall(Expr r, bool negative)
    {
        string Signed(string code) => Kept(negative ? $"-({code})" : code);
        if (!r.Varying) return negative ? $"sub_({Kept(Host(r))})" : $"add_({Kept(Host(r))}, {One})";
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
                return negative ? $"sub_({Tensor(r)})" : $"add_({Tensor(r)}, {One})";
        }

        // h * t, or h * t1 * t2 as one addcmul_.
        string Fused(Expr varying, Expr host)
        {
            if (varying is Binary { Op: BinaryOp.Multiply, Left: var x, Right: var y } && x.Varying && y.Varying)
                return $"addcmul_({Tensor(x)}, {Tensor(y)}, value: {Signed(Host(host))})";
            return $"add_({Tensor(varying)}, alpha: {Signed(Host(host))})";
        }
    }

    // A per-element condition: both arms are computed (functionally, state and parameter rebound, not written) and
    // the values that differ joined with a select; what changed is written back once outside every such condition.

    protected override (CodeWriter Then, CodeWriter Otherwise, string Condition) ForkPerElement(If i)
    {
        Path.Line($"// {i.Source}: per element, both branches computed and selected");
        var condition = Tensor(i.Condition);
        return (Path, Path, condition);
    }

    protected override Value JoinPerElementArms((VarKind Kind, string Name) key, Value a, Value b, string condition, CodeWriter then, CodeWriter otherwise)
    {
        var second = b is HostValue && a is HostValue ? AsTensor(b) : Code(b);
        return Temp($"{TensorMath}.Select({condition}, {Code(a)}, {second})", key.Name);
    }

    protected override void EndPerElementIf(If i, string condition, CodeWriter then, CodeWriter otherwise)
    {
        if (PerElementDepth == 0) WriteBack();
    }

    /// <summary>Writes state and parameter values computed under per-element conditions back into their tensors.</summary>
    void WriteBack()
    {
        var pending = Env.Where(e => e.Key.Kind is VarKind.State or VarKind.Param && e.Value != new ElementValue(Handle(e.Key))).ToList();
        var overwritten = new HashSet<string>(pending.Select(e => Handle(e.Key)));
        foreach (var (key, value) in pending.Select(e => (e.Key, e.Value)).ToList())
        {
            // The new value may be another tensor's old value that is about to be overwritten too.
            if (value is ElementValue t && overwritten.Contains(t.Name)) Env[key] = Temp($"{t.Name}.clone()", key.Item2);
        }
        foreach (var key in pending.Select(e => e.Key)) Write(key, Env[key]);
    }

    // A host condition: a C# if, each arm on a writer of its own.

    protected override CodeWriter HostOf(CodeWriter path) => path;

    protected override string HostCondition(If i) => Host(i.Condition);

    protected override CodeWriter ForkHost(CodeWriter outer) => new();

    /// <summary>A value that is a tensor on at least one arm: one tensor variable, assigned in each.</summary>
    protected override Value JoinHostArms((VarKind Kind, string Name) key, Value a, Value b, CodeWriter then, CodeWriter otherwise)
    {
        var name = Variables.Take(key.Name);
        Path.Line($"{TensorType} {name};");
        then.Line($"{name} = {AsTensor(a)};");
        otherwise.Line($"{name} = {AsTensor(b)};");
        RecordAliases(name, a, b);
        return new ElementValue(name);
    }

    /// <summary>
    /// <paramref name="name"/> may hold the tensor of <paramref name="a"/> or of <paramref name="b"/> itself (a state or
    /// parameter tensor, on one side or both): <see cref="ProtectAliases"/> must know to copy it before that tensor is
    /// next updated in place.
    /// </summary>
    void RecordAliases(string name, Value a, Value b)
    {
        var aliased = new[] { a, b }.OfType<ElementValue>().SelectMany(t => _aliases.TryGetValue(t.Name, out var of) ? of : new[] { t.Name }).ToArray();
        if (aliased.Length > 0) _aliases[name] = aliased;
    }

    /// <summary>Variables that may hold another's tensor (joins of host branches, host selections) and the tensors they may hold.</summary>
    readonly Dictionary<string, string[]> _aliases = new();

    protected override void EndHostIf(If i, string condition, CodeWriter then, CodeWriter otherwise) =>
        Path.If($"if ({condition})", then, otherwise);

    Value Evaluate(Expr e, string? hint = null)
    {
        if (!e.Varying) return new HostValue(Host(e), e.Type);
        switch (e)
        {
            case Reference r:
                // A local given a host value under a per-element condition is uniform there; as a varying value
                // it is a 0-d tensor, which broadcasts.
                var bound = Env[(r.Kind, r.Name)];
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
            {
                var condition = Host(s.Condition);
                var (whenTrue, whenFalse) = (Evaluate(s.WhenTrue), Evaluate(s.WhenFalse));
                var selected = Temp($"{condition} ? {AsTensor(whenTrue)} : {AsTensor(whenFalse)}", hint);
                RecordAliases(selected.Name, whenTrue, whenFalse);
                return selected;
            }
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
                // Tensor.add(x) makes its alpha of 1 a Scalar it does not keep alive: give it one that is.
                if (l is ElementValue lt) return b.Op == BinaryOp.Add ? $"{lt.Name}.add({ScalarOrTensor(r)}, {One})" : $"{lt.Name}.{method}({ScalarOrTensor(r)})";
                var host = Code(l);
                var tensor = Code(r);
                return b.Op switch
                {
                    BinaryOp.Add => $"{tensor}.add({Kept(host)}, {One})",
                    BinaryOp.Multiply => $"{tensor}.mul({Kept(host)})",
                    BinaryOp.Subtract => $"{TensorMath}.Sub({host}, {tensor})",
                    BinaryOp.Divide => $"{TensorMath}.Div({host}, {tensor})",
                    _ => $"{TensorMath}.AsTensor({host}, {tensor}).fmod({tensor})",
                };
            }
            case BinaryOp.And or BinaryOp.Or:
            {
                var method = b.Op == BinaryOp.And ? "And" : "Or";
                if (l is ElementValue lt && r is ElementValue rt) return $"{lt.Name}.logical_{method.ToLowerInvariant()}({rt.Name})";
                return l is ElementValue only ? $"{TensorMath}.{method}({only.Name}, {Code(r)})" : $"{TensorMath}.{method}({Code(r)}, {Code(l)})";
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
                return l is ElementValue lt ? $"{lt.Name}.{method}({ScalarOrTensor(r)})" : $"{Code(r)}.{flipped}({ScalarOrTensor(l)})";
            }
        }
    }

    Value CallValue(Call c, string? hint)
    {
        var intrinsic = c.Function.Intrinsic();
        if (intrinsic.PortableExpansion is { } expand) return Evaluate(expand(c.Arguments.AsImmutableArray()), hint);
        var args = c.Arguments.Select(a => Evaluate(a)).ToArray();
        string code;
        switch (intrinsic.Kind)
        {
            case IntrinsicKind.Orthogonalization:
            {
                var request = Variables.Take("request");
                Path.Line($"var {request} = new {Portable}.MatrixRequest({Code(args[0])}, {_p}, {Code(args[1])}, {Code(args[2])}, {Code(args[3])}, {Code(args[4])}, {Code(args[5])});");
                Path.Line($"yield return {request};");
                code = $"{request}.Result";
                break;
            }
            case IntrinsicKind.GlobalReduction or IntrinsicKind.GroupReduction:
            {
                var request = Variables.Take("request");
                bool group = intrinsic.Kind == IntrinsicKind.GroupReduction;
                var reduction = intrinsic.Name.Substring(group ? "Group".Length : "Global".Length);
                // A group's options object is shared by its tensors: it names the group the reduction spans.
                var scope = group ? OptionsVariable : "null";
                Path.Line($"var {request} = new {Portable}.GlobalRequest({Portable}.GlobalReduction.{reduction}, {Code(args[0])}, {_p}, {scope});");
                Path.Line($"yield return {request};");
                code = $"{request}.Result";
                break;
            }
            default:
                code = intrinsic.Portable!(new Arguments(this, args));
                break;
        }
        return Temp(code, hint);
    }

    /// <summary>A call's arguments for the intrinsics table's portable spellings.</summary>
    sealed class Arguments(PortableEmitter emitter, Value[] values) : PortableArguments
    {
        public override string this[int index] => emitter.Code(values[index]);
        public override bool IsTensor(int index) => values[index] is ElementValue;
        public override string AsTensor(int index) => emitter.AsTensor(values[index]);
        public override string Scalar(int index) => emitter.ScalarOrTensor(values[index]);
        public override string Parameter => emitter._p;
    }

    /// <summary>Whether <paramref name="e"/> reads the variable that <paramref name="target"/> writes.</summary>
    /// <summary>Whether <paramref name="e"/> reads the target's tensor: by its name, or through a local that holds it (<c>x = u</c>).</summary>
    bool Reads(Expr e, Target target) => e switch
    {
        Reference r => (r.Kind == target.Kind && r.Name == target.Name) || HoldsTensorOf(r, target),
        Unary u => Reads(u.Operand, target),
        Binary b => Reads(b.Left, target) || Reads(b.Right, target),
        Call c => c.Arguments.Any(a => Reads(a, target)),
        Select s => Reads(s.Condition, target) || Reads(s.WhenTrue, target) || Reads(s.WhenFalse, target),
        Convert c => Reads(c.Operand, target),
        _ => false,
    };

    bool HoldsTensorOf(Reference r, Target target)
    {
        if (target.Kind is not (VarKind.State or VarKind.Param) || !Env.TryGetValue((r.Kind, r.Name), out var value) || value is not ElementValue t)
            return false;
        var handle = Handle((target.Kind, target.Name));
        return t.Name == handle || (_aliases.TryGetValue(t.Name, out var held) && held.Contains(handle));
    }

    /// <summary>Before <paramref name="handle"/> changes in place, locals bound to it get their own copy.</summary>
    void ProtectAliases(string handle, (VarKind, string) owner)
    {
        foreach (var key in Env.Keys.ToList())
        {
            if (key.Equals(owner) || Env[key] is not ElementValue t) continue;
            if (t.Name != handle && !(_aliases.TryGetValue(t.Name, out var held) && held.Contains(handle))) continue;
            if (key.Item1 is VarKind.State or VarKind.Param && Handle(key) == handle) continue;
            Env[key] = Temp($"{t.Name}.clone()", key.Item2);
        }
    }

    ElementValue Temp(string code, string? hint)
    {
        var name = Variables.Take(hint ?? "tmp");
        Path.Line($"var {name} = {code};");
        return new ElementValue(name);
    }

    string Tensor(Expr e) => Code(Evaluate(e));

    string Code(Value v) => v switch
    {
        ElementValue t => t.Name,
        HostValue h => h.Code,
        _ => throw new System.InvalidOperationException("read of an unassigned local"),
    };

    /// <summary>The variable holding the update's <c>KeptScalars</c>, named when the first is needed.</summary>
    string? _scalars;

    /// <summary>A host value as a <c>Scalar</c> kept alive until the update ends (TorchSharp frees temporary ones mid-call).</summary>
    string Kept(string hostCode) => $"{_scalars ??= Variables.Take("scalars")}[{hostCode}]";

    /// <summary>The alpha of 1 that <c>add</c> needs spelled out.</summary>
    string One => Kept("1.0");

    /// <summary>A value where TorchSharp takes a tensor or a <c>Scalar</c>.</summary>
    string ScalarOrTensor(Value v) => v is HostValue h ? Kept(h.Code) : Code(v);

    /// <summary>Writes the statements <paramref name="walk"/> emits, after the <c>KeptScalars</c> they use, into <paramref name="w"/>.</summary>
    void WithKeptScalars(CodeWriter w, System.Action walk)
    {
        var body = Path = new CodeWriter();
        walk();
        Path = w;
        if (_scalars is not null) w.Line($"using var {_scalars} = {RuntimeApi.KeptScalars}.Rent();");
        w.Append(body);
    }

    string AsTensor(Value v) => v is HostValue h ? $"{TensorMath}.AsTensor({h.Code}, {_p})" : Code(v);

    protected override string ElementInHostCode(Reference r, Value value) => Code(value);
}
