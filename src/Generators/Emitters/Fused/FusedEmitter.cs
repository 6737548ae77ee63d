using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Analysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters.Fused;

/// <summary>Where the fused code of one path of the rule goes: its host statements, and its element code in every target.</summary>
sealed record FusedPath(CodeWriter Host, ElementCode Element);

/// <summary>
/// Emits the fused backends of a declaration from the same model as the portable one, in one walk:
/// <list type="bullet">
/// <item><c>FillScalars</c> in C#, the host half shared by every target: it runs the rule's host statements in order
/// (scalar state, host locals, host conditions) and writes every host value the element code reads into a slot;</item>
/// <item>the element body in each target of <see cref="Targets"/>: CUDA C (wrapped by the runtime in a multi-tensor
/// kernel), and C# over <c>Vector&lt;float&gt;</c> lanes and over single floats, which <c>UpdateCpu</c> runs over
/// a chunk and its tail.</item>
/// </list>
/// A rule with reductions gets these targets once per phase (<see cref="PhasePlan"/>), all fed by the same walk and the
/// same slots. A host condition becomes a uniform branch on a slot. A local lives on the host until the rule gives it a
/// per-element value, then in a register of the element code.
/// </summary>
sealed class FusedEmitter : RuleWalker<FusedPath>, IElementValues
{
    /// <summary>
    /// The targets, in the order each is asked for its code (which is the order slots are taken in): CUDA, the CPU's
    /// scalar tail and its vector loop, for each phase of the rule in turn (one phase for an elementwise rule).
    /// </summary>
    readonly ElementTarget[] Targets;
    const int TargetsPerPhase = 3;
    readonly PhasePlan _plan;

    Dictionary<string, Slot> _slotMemo = new();
    readonly List<Slot> _slots = new();
    readonly HashSet<string> _slotNames = new();
    /// <summary>The locals that live in registers of the element code (the others only on the host).</summary>
    readonly HashSet<string> _registers = new();
    string _scalars = "";
    /// <summary>Where the host half reads reductions' results, when it runs again after each phase (<see cref="PhasePlan.HostReadsResults"/>).</summary>
    string _results = "";
    /// <summary>The host variables of the locals that hold values from reductions, by local (<see cref="PhasePlan.HostLocals"/>).</summary>
    readonly Dictionary<string, string> _hostLocals = new();
    readonly Dictionary<Call, PlannedReduction> _reductionOf;

    FusedEmitter(OptimizerModel model)
        : base(model, model.Update, new FusedPath(new CodeWriter(), new ElementCode(TargetsPerPhase * model.Phases.Phases)))
    {
        _plan = model.Phases;
        _reductionOf = _plan.Sums.ToDictionary(r => r.Call, r => r, ByReference<Call>.Instance);
        // The CPU targets leave out of a phase what only later phases need (PhaseNeeds); nvrtc drops dead code and
        // unused loads itself, so the CUDA text stays whole.
        // Run row by row, the CPU targets compute what is the same along a row once a row (RowValues).
        var rowStates = model.States.Select((st, i) => (st, i)).Where(x => x.st.Shape == StateShapeModel.Rows)
            .Select(x => (ElementNames.State(x.st.Name), $"stRow{x.i}")).ToList();
        RowValues? Rows(PhaseView phase) => _plan.RowWise ? new RowValues(this, phase, rowStates) : null;
        Targets = Enumerable.Range(1, _plan.Phases).SelectMany(k =>
        {
            var whole = new PhaseView(k, _plan, PhaseNeeds.All);
            var trimmed = new PhaseView(k, _plan, PhaseNeeds.Of(model.Update, _plan, k));
            return new ElementTarget[]
            {
                new CudaTarget(this, whole), new CpuScalarTarget(this, trimmed) { Rows = Rows(trimmed) }, new CpuVectorTarget(this, trimmed) { Rows = Rows(trimmed) },
            };
        }).ToArray();
    }

    public static void Emit(OptimizerModel model, CodeWriter w) => new FusedEmitter(model).Write(w);

    void Write(CodeWriter w)
    {
        var update = Rule;
        OptionsVariable = Variables.Take("options");
        StateVariable = Variables.Take("state");
        // Matrix.Rows() and Columns() are read from the parameter, which the state holds.
        ShapeSource = StateVariable + ".Parameter";
        _scalars = Variables.Take("scalars");
        if (_plan.HostReadsResults)
        {
            _results = Variables.Take("results");
            foreach (var local in _plan.HostLocals) _hostLocals[local] = Variables.Take(local);
        }
        if (update.Usage.Step) StepVariable = Variables.Take(update.StepName ?? "t");
        NameHypers();

        Env[(VarKind.Param, update.ParamName)] = new ElementValue("p");
        Env[(VarKind.Grad, update.GradName)] = new ElementValue("g");
        foreach (var s in Declaration.States) Env[(VarKind.State, s.Name)] = new ElementValue(ElementNames.State(s.Name));
        Walk(update.Body);

        var root = Path.Element;
        var locals = update.Locals.Where(l => _registers.Contains(ElementNames.Local(l.Name))).ToList();
        var phases = Enumerable.Range(0, _plan.Phases).Select(k => Targets[TargetsPerPhase * k].Phase).ToList();
        CudaTarget.WriteKernel(w, Declaration, locals, phases, phases.Select(k => root[TargetsPerPhase * (k.Number - 1)]).ToList(), _slots, _matrixArguments, _guards);
        var cpuPhases = Enumerable.Range(0, _plan.Phases).Select(k => Targets[TargetsPerPhase * k + 2].Phase).ToList();
        w.Doc("<inheritdoc/>");
        w.Line($"protected override {RuntimeApi.CudaKernel}? FusedKernel => CudaKernel;");
        w.Line();
        if (_plan.HostReadsResults)
        {
            w.Doc("<summary>The host half of the fused update: runs the rule's host statements and fills the kernel's scalars. Scalar state takes values from reductions, so the runtime runs it again after each phase with the results known by then, from the scalar state of the step's start.</summary>");
            w.Open($"protected override void FillScalars(Options {OptionsVariable}, State {StateVariable}, global::System.Span<float> {_scalars}, global::System.ReadOnlySpan<float> {_results})");
        }
        else
        {
            w.Doc("<summary>The host half of the fused update: runs the rule's host statements and fills the kernel's scalars.</summary>");
            w.Open($"protected override void FillScalars(Options {OptionsVariable}, State {StateVariable}, global::System.Span<float> {_scalars})");
        }
        BindHypers(w);
        foreach (var local in update.Locals.Where(l => _hostLocals.ContainsKey(l.Name)))
            w.Line($"{HostBindings.Type(local.Type)} {_hostLocals[local.Name]} = default; // {local.Name} on the host");
        if (update.Usage.Step) w.Line($"long {StepVariable} = {StateVariable}.Step;");
        w.Append(Path.Host);
        w.Close();
        w.Line();
        if (_plan.HasReductions) CpuLoop.WritePhaseDispatch(w, _plan);
        foreach (var phase in cpuPhases)
        {
            int first = TargetsPerPhase * (phase.Number - 1);
            CpuLoop.WriteUpdateCpu(w, Declaration, locals, root[first + 2], root[first + 1], _slots, phase,
                ((CpuScalarTarget)Targets[first + 1]).Rows?.Prologue, ((CpuVectorTarget)Targets[first + 2]).Rows?.Prologue);
        }
    }

    protected override CodeWriter HostOf(FusedPath path) => path.Host;

    /// <summary>A reduction's result, in the host half that runs after the phase computing it.</summary>
    protected override string? HostCall(Call c) =>
        _plan.HostReadsResults && _reductionOf.TryGetValue(c, out var r) ? $"((double){_results}[{r.Index}])" : null;

    protected override string ElementInHostCode(Reference r, Value value) =>
        r.Kind == VarKind.Local && _hostLocals.TryGetValue(r.Name, out var onHost) ? onHost : base.ElementInHostCode(r, value);

    protected override void Assign(Assign a)
    {
        var target = a.Target;
        var key = (target.Kind, target.Name);
        switch (target.Kind)
        {
            case VarKind.ScalarState:
                // The element code accumulates the reductions the value reads; the host half reads their results.
                RecordGuards(a.Value);
                for (int t = 0; t < Targets.Length; t++) Targets[t].Accumulate(Path.Element[t], a.Value);
                HostCode.Line($"{StateVariable}.{Names.Pascal(target.Name)} = {Host(a.Value)};");
                // Slots read before this hold the old value.
                ForgetScalarStateSlots(_slotMemo);
                _scalarStateWrites++;
                return;
            case VarKind.Local when !a.Value.Varying && PerElementDepth == 0:
            {
                var name = Variables.Take(target.Name);
                var value = Host(a.Value);
                HostCode.Line($"{HostBindings.Type(a.Value.Type)} {name} = {value};");
                Env[key] = new HostValue(name, a.Value.Type);
                return;
            }
            default:
            {
                var name = target.Kind == VarKind.Local ? ElementNames.Local(target.Name) : ((ElementValue)Env[key]).Name;
                _registers.Add(name);
                // A local the host half also needs (scalar state reads it): the same value computed there.
                if (target.Kind == VarKind.Local && _hostLocals.TryGetValue(target.Name, out var onHost) && PerElementDepth == 0)
                    HostCode.Line($"{onHost} = {Host(a.Value)};");
                RecordMatrixArguments(a.Value);
                RecordGuards(a.Value);
                for (int t = 0; t < Targets.Length; t++) Targets[t].Accumulate(Path.Element[t], a.Value);
                for (int t = 0; t < Targets.Length; t++)
                    if (Targets[t].Phase.Needs.Runs(a))
                        Targets[t].Assign(Path.Element[t], Path.Element.Mask(t), name, a.Value, a.Target.Type, " // " + a.Source);
                Env[key] = new ElementValue(name);
                return;
            }
        }
    }

    /// <summary>The slots holding each matrix call's host arguments (steps, then coefficients), by its index.</summary>
    readonly Dictionary<int, Slot[]> _matrixArguments = new();

    /// <summary>Puts the host arguments of the matrix calls in <paramref name="e"/> into slots, for the runtime to read.</summary>
    void RecordMatrixArguments(Expr e)
    {
        foreach (var m in _plan.Matrices)
            if (!_matrixArguments.ContainsKey(m.Index) && e.Calls().Any(c => ReferenceEquals(c, m.Call)))
                _matrixArguments[m.Index] = m.Call.Arguments.Skip(1).Select(argument => SlotFor(Host(argument), argument.Type)).ToArray();
    }

    // A host condition: computed in FillScalars into a slot the element code branches on.

    /// <summary>The slots of the host conditions being walked, innermost last.</summary>
    readonly Stack<Slot> _hostConditions = new();

    /// <summary>Per host condition being walked (innermost on top), the arm: 1 then, 2 else (0 before either).</summary>
    readonly Stack<int> _arms = new();

    /// <summary>
    /// Per reduction, the host conditions it is accumulated under: slot + 1 where the slot must hold true, −(slot + 1)
    /// where false. A phase none of whose reductions' conditions hold for any tensor is skipped at run time.
    /// </summary>
    readonly Dictionary<int, int[]> _guards = new();

    /// <summary>Records the host conditions of the reductions <paramref name="e"/> accumulates (outermost first).</summary>
    void RecordGuards(Expr e)
    {
        var conditions = _hostConditions.Zip(_arms, (slot, arm) => arm == 2 ? -(slot.Index + 1) : slot.Index + 1).Reverse().ToArray();
        foreach (var r in _plan.In(e))
            if (!r.IsMatrix && !_guards.ContainsKey(r.Index)) _guards[r.Index] = conditions;
    }

    /// <summary>How many conditions (host or per element) the walk stands inside.</summary>
    int _branches;

    bool IElementValues.InBranch => _branches > 0;

    protected override string HostCondition(If i)
    {
        _branches++;
        var condition = Variables.Take("condition");
        HostCode.Line($"bool {condition} = {Host(i.Condition)};");
        var slot = NewSlot(ValueKind.Boolean, i.Condition is Reference r ? r.Name : "condition");
        HostCode.Line($"{_scalars}[{slot.Index}] = {condition} ? 1f : 0f;");
        _hostConditions.Push(slot);
        _arms.Push(0);
        return condition;
    }

    protected override FusedPath ForkHost(FusedPath outer)
    {
        // Called for the then arm, then for the else arm, of the innermost host condition.
        _arms.Push(_arms.Pop() + 1);
        return new(new CodeWriter(), new ElementCode(outer.Element.Masks.ToArray()));
    }

    /// <summary>How many assignments to scalar state the walk has written so far.</summary>
    int _scalarStateWrites;

    protected override object? SavePathCaches() => (new Dictionary<string, Slot>(_slotMemo), _scalarStateWrites);

    protected override void RestorePathCaches(object? saved, bool copy)
    {
        var (memo, writes) = ((Dictionary<string, Slot>, int))saved!;
        _slotMemo = copy ? new Dictionary<string, Slot>(memo) : memo;
        // After a host if, the slots from before it that read scalar state are stale if either arm assigned it.
        if (!copy && writes != _scalarStateWrites) ForgetScalarStateSlots(_slotMemo);
    }

    void ForgetScalarStateSlots(Dictionary<string, Slot> memo)
    {
        foreach (var stale in memo.Keys.Where(ReadsScalarState).ToList()) memo.Remove(stale);
    }

    /// <summary>One arm left a host value, the other a register: the register holds it on both paths.</summary>
    protected override Value JoinHostArms((VarKind Kind, string Name) key, Value a, Value b, FusedPath then, FusedPath otherwise)
    {
        var register = ElementNames.Local(key.Name);
        if (a is HostValue ta) AssignSlot(then.Element, key, register, Materialize(ta, then.Host));
        if (b is HostValue tb) AssignSlot(otherwise.Element, key, register, Materialize(tb, otherwise.Host));
        if (key.Kind == VarKind.Local && _hostLocals.TryGetValue(key.Name, out var onHost))
        {
            if (a is HostValue ha) then.Host.Line($"{onHost} = {ha.Code};");
            if (b is HostValue hb) otherwise.Host.Line($"{onHost} = {hb.Code};");
        }
        return new ElementValue(register);
    }

    protected override void EndHostIf(If i, string condition, FusedPath then, FusedPath otherwise)
    {
        _branches--;
        var slot = _hostConditions.Pop();
        _arms.Pop();
        if (!then.Host.IsEmpty || !otherwise.Host.IsEmpty) HostCode.If($"if ({condition})", then.Host, otherwise.Host);
        for (int t = 0; t < Targets.Length; t++)
            if (Targets[t].Phase.Needs.Runs(i)) Targets[t].HostIf(Path.Element[t], slot, i.Source, then.Element[t], otherwise.Element[t]);
    }

    // A per-element condition: a branch in CUDA and the scalar loop, masked lanes in the vector loop.

    readonly Stack<PerElementFork[]> _forks = new();

    protected override (FusedPath Then, FusedPath Otherwise, string Condition) ForkPerElement(If i)
    {
        _branches++;
        var forks = new PerElementFork[Targets.Length];
        RecordMatrixArguments(i.Condition);
        RecordGuards(i.Condition);
        for (int t = 0; t < Targets.Length; t++) Targets[t].Accumulate(Path.Element[t], i.Condition);
        for (int t = 0; t < Targets.Length; t++)
            forks[t] = Targets[t].Phase.Needs.Runs(i)
                ? Targets[t].ForkPerElement(Path.Element[t], i.Condition, i.Source, Path.Element.Mask(t))
                : new PerElementFork("", Path.Element.Mask(t), Path.Element.Mask(t)); // left out: nothing inside is written
        _forks.Push(forks);
        var then = new FusedPath(Path.Host, new ElementCode(forks.Select(f => f.ThenMask).ToArray()));
        var otherwise = new FusedPath(Path.Host, new ElementCode(forks.Select(f => f.ElseMask).ToArray()));
        return (then, otherwise, "");
    }

    protected override Value JoinPerElementArms((VarKind Kind, string Name) key, Value a, Value b, string condition, FusedPath then, FusedPath otherwise)
    {
        var register = ElementNames.Local(key.Name);
        if (a is HostValue ta) AssignSlot(then.Element, key, register, Materialize(ta, HostCode));
        if (b is HostValue tb) AssignSlot(otherwise.Element, key, register, Materialize(tb, HostCode));
        return new ElementValue(register);
    }

    protected override void EndPerElementIf(If i, string condition, FusedPath then, FusedPath otherwise)
    {
        _branches--;
        var forks = _forks.Pop();
        for (int t = 0; t < Targets.Length; t++)
            if (Targets[t].Phase.Needs.Runs(i)) Targets[t].EndPerElement(Path.Element[t], forks[t], then.Element[t], otherwise.Element[t]);
    }

    // Slots: host values the element code reads.

    /// <summary><paramref name="name"/> (the register of <paramref name="key"/>) = the host value in <paramref name="slot"/>, in every target whose phase uses it.</summary>
    void AssignSlot(ElementCode code, (VarKind Kind, string Name) key, string name, Slot slot)
    {
        _registers.Add(name);
        for (int t = 0; t < Targets.Length; t++)
            if (Targets[t].Phase.Needs.Uses(key.Kind, key.Name)) Targets[t].AssignSlot(code[t], code.Mask(t), name, slot);
    }

    /// <summary>A fresh slot holding a host value, written by <paramref name="host"/>.</summary>
    Slot Materialize(HostValue value, CodeWriter host)
    {
        var slot = NewSlot(value.Type, NameOf(value.Code));
        host.Line(SlotAssignment(slot, value.Code));
        return slot;
    }

    /// <summary>The slot holding a host value, written by the host code at this point (reused while still valid).</summary>
    Slot SlotFor(string code, ValueKind type)
    {
        if (_slotMemo.TryGetValue(code, out var slot)) return slot;
        slot = NewSlot(type, NameOf(code));
        HostCode.Line(SlotAssignment(slot, code));
        _slotMemo[code] = slot;
        return slot;
    }

    Slot NewSlot(ValueKind type, string preferred)
    {
        var name = preferred;
        for (int i = 2; !_slotNames.Add(name); i++) name = preferred + "_" + i;
        var slot = new Slot(_slots.Count, type, name);
        _slots.Add(slot);
        return slot;
    }

    /// <summary>A slot's name from the host code it holds: the variable (<c>beta1</c>, <c>h2</c>), scalar state's name, else <c>value</c>.</summary>
    string NameOf(string code)
    {
        var name = code.TrimStart('@');
        if (name.StartsWith(StateVariable + ".", System.StringComparison.Ordinal)) name = name.Substring(StateVariable.Length + 1);
        return name.Length > 0 && (char.IsLetter(name[0]) || name[0] == '_') && name.All(c => char.IsLetterOrDigit(c) || c == '_') ? name : "value";
    }

    bool ReadsScalarState(string code) => code.Contains(StateVariable + ".");

    string SlotAssignment(Slot slot, string code) =>
        slot.Type == ValueKind.Boolean ? $"{_scalars}[{slot.Index}] = {code} ? 1f : 0f;" : $"{_scalars}[{slot.Index}] = (float){code};";

    Slot IElementValues.SlotOf(Expr hostExpression) => SlotFor(Host(hostExpression), hostExpression.Type);

    (string? Register, Slot? Slot) IElementValues.Read(Reference reference) => Env[(reference.Kind, reference.Name)] switch
    {
        ElementValue e => (e.Name, null),
        HostValue h => (null, SlotFor(h.Code, h.Type)),
        _ => (null, null),
    };

    string IElementValues.NewVariable(string preferred) => Variables.Take(preferred);
}
