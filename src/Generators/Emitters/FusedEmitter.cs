using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptDsl.Generators.Analysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Emits the fused backends of a declaration from the same model as the portable one, in one walk:
/// <list type="bullet">
/// <item><c>FillScalars</c> in C#, the host half shared by both: it runs the rule's host statements in order (scalar
/// state, host locals, host conditions) and writes every host value the element code reads into slots <c>s[k]</c>;</item>
/// <item>the element body in CUDA C (<see cref="FusedEmitter"/>.Cuda.cs), wrapped by the runtime in a multi-tensor
/// kernel; and</item>
/// <item><c>UpdateCpu</c> in C#: the body over <c>Vector&lt;float&gt;</c> lanes (.CpuVector.cs), where a per-element
/// condition becomes masked selects, then a scalar tail (.CpuScalar.cs).</item>
/// </list>
/// A host condition becomes a uniform branch on a slot. A local lives on the host until the rule gives it a
/// per-element value, then in a register of the element code.
/// </summary>
sealed partial class FusedEmitter
{
    abstract record Value;
    sealed record HostValue(string Code, ValueKind Type) : Value;
    sealed record DeviceValue(string Name) : Value;
    sealed record Unassigned : Value;

    readonly OptimizerModel _model;
    readonly NameAllocator _names = new();
    readonly Dictionary<string, string> _hyperVars = new();
    CodeWriter _host = new();
    Devices _device = new(null);
    Dictionary<(VarKind Kind, string Name), Value> _env = new();
    Dictionary<string, int> _slotMemo = new();
    Dictionary<int, string> _hoisted = new();
    int _slots;
    int _varyingDepth;
    /// <summary>The locals that live in registers of the element code (the others only on the host).</summary>
    readonly HashSet<string> _registers = new();
    string _t = "", _options = "", _state = "", _scalars = "";

    FusedEmitter(OptimizerModel model) => _model = model;

    public static void Emit(OptimizerModel model, CodeWriter w) => new FusedEmitter(model).Write(w);

    /// <summary>The element code being written for the three targets, and the vector lanes it applies to (null: all).</summary>
    sealed class Devices(string? mask)
    {
        public CodeWriter Cuda { get; } = new();
        public CodeWriter Scalar { get; } = new();
        public CodeWriter Vector { get; } = new();
        public string? Mask { get; } = mask;

    }

    void Write(CodeWriter w)
    {
        var update = _model.Update;
        var used = Usage.Of(update);
        _options = _names.Take("options");
        _state = _names.Take("state");
        _scalars = _names.Take("scalars");
        if (used.Step) _t = _names.Take(update.StepName ?? "t");
        foreach (var h in _model.Hypers.Where(h => used.Hypers.Contains(h.Name))) _hyperVars[h.Name] = _names.Take(h.Name);

        _env[(VarKind.Param, update.ParamName)] = new DeviceValue("p");
        _env[(VarKind.Grad, update.GradName)] = new DeviceValue("g");
        foreach (var s in _model.States) _env[(VarKind.State, s.Name)] = new DeviceValue(StateName(s.Name));
        foreach (var s in update.Body) Statement(s);

        WriteCudaKernel(w);
        w.Doc("<inheritdoc/>");
        w.Line($"protected override {RuntimeApi.CudaKernel}? FusedKernel => CudaKernel;");
        w.Line();
        w.Doc("<summary>The host half of the fused update: runs the rule's host statements and fills the kernel's scalars.</summary>");
        w.Open($"protected override void FillScalars(Options {_options}, State {_state}, global::System.Span<float> {_scalars})");
        foreach (var h in _model.Hypers.Where(h => _hyperVars.ContainsKey(h.Name)))
        {
            w.Line(HostBindings.Hyper(h, _hyperVars[h.Name], _options));
        }
        if (used.Step) w.Line($"long {_t} = {_state}.Step;");
        w.Append(_host);
        w.Close();
        w.Line();
        WriteCpuUpdate(w);
    }

    void Statement(Stmt statement)
    {
        switch (statement)
        {
            case Declare d:
                _env[(d.Local.Kind, d.Local.Name)] = new Unassigned();
                break;
            case Assign a:
                Assign(a);
                break;
            case If i when i.Condition.Varying:
                VaryingIf(i);
                break;
            case If i:
                HostIf(i);
                break;
        }
    }

    void Assign(Assign a)
    {
        var target = a.Target;
        var key = (target.Kind, target.Name);
        switch (target.Kind)
        {
            case VarKind.ScalarState:
                _host.Line($"{_state}.{Names.Pascal(target.Name)} = {Host(a.Value)};");
                return;
            case VarKind.Local when !a.Value.Varying && _varyingDepth == 0:
            {
                var name = _names.Take(target.Name);
                var value = Host(a.Value);
                _host.Line($"{HostBindings.Type(a.Value.Type)} {name} = {value};");
                _env[key] = new HostValue(name, a.Value.Type);
                return;
            }
            default:
            {
                var name = target.Kind == VarKind.Local ? LocalName(target.Name) : ((DeviceValue)_env[key]).Name;
                AssignDevice(_device, name, a.Value, a.Target.Type, " // " + a.Source);
                _env[key] = new DeviceValue(name);
                return;
            }
        }
    }

    void HostIf(If i)
    {
        var condition = _names.Take("condition");
        _host.Line($"bool {condition} = {Host(i.Condition)};");
        int slot = _slots++;
        _host.Line($"{_scalars}[{slot}] = {condition} ? 1f : 0f;");

        var (outerHost, outerDevice) = (_host, _device);
        var before = new Dictionary<(VarKind, string), Value>(_env);
        var memoBefore = new Dictionary<string, int>(_slotMemo);
        var hoistedBefore = new Dictionary<int, string>(_hoisted);

        var (thenHost, thenDevice) = (_host, _device) = (new CodeWriter(), new Devices(outerDevice.Mask));
        foreach (var s in i.Then) Statement(s);
        var afterThen = _env;

        _env = new Dictionary<(VarKind, string), Value>(before);
        (_slotMemo, _hoisted) = (new Dictionary<string, int>(memoBefore), new Dictionary<int, string>(hoistedBefore));
        var (elseHost, elseDevice) = (_host, _device) = (new CodeWriter(), new Devices(outerDevice.Mask));
        foreach (var s in i.Else) Statement(s);
        var afterElse = _env;

        (_host, _device) = (outerHost, outerDevice);
        (_slotMemo, _hoisted) = (memoBefore, hoistedBefore);
        _env = new Dictionary<(VarKind, string), Value>();
        foreach (var key in before.Keys)
        {
            var (a, b) = (afterThen[key], afterElse[key]);
            if (a == b) _env[key] = a;
            else if (a is Unassigned || b is Unassigned) _env[key] = new Unassigned();
            else if (a is HostValue ha && b is HostValue hb && ha.Type == hb.Type)
            {
                var name = _names.Take(key.Item2);
                _host.Line($"{HostBindings.Type(ha.Type)} {name};");
                thenHost.Line($"{name} = {ha.Code};");
                elseHost.Line($"{name} = {hb.Code};");
                _env[key] = new HostValue(name, ha.Type);
            }
            else
            {
                // One branch left a host value, the other a register: the register holds it on both paths.
                var register = LocalName(key.Item2);
                if (a is HostValue ta) AssignSlot(thenDevice, register, Materialize(ta, thenHost), ta.Type);
                if (b is HostValue tb) AssignSlot(elseDevice, register, Materialize(tb, elseHost), tb.Type);
                _env[key] = new DeviceValue(register);
            }
        }

        if (thenHost.ToString().Length + elseHost.ToString().Length > 0) EmitBranches(_host, $"if ({condition})", thenHost, elseHost);
        EmitBranches(_device.Cuda, $"if (s[{slot}] != 0.f) // {i.Source}", thenDevice.Cuda, elseDevice.Cuda);
        EmitBranches(_device.Scalar, $"if (s[{slot}] != 0f) // {i.Source}", thenDevice.Scalar, elseDevice.Scalar);
        EmitBranches(_device.Vector, $"if (s[{slot}] != 0f) // {i.Source}", thenDevice.Vector, elseDevice.Vector);
    }

    void VaryingIf(If i)
    {
        var outerDevice = _device;
        var (cudaCondition, scalarCondition) = (Cuda(i.Condition), Scalar(i.Condition));
        // The vector target computes both branches over the lanes their condition selects.
        var mask = _names.Take("mask");
        outerDevice.Vector.Line($"var {mask} = {AsMask(Vector(i.Condition))}; // {i.Source}");
        var thenMask = outerDevice.Mask is null ? mask : $"({outerDevice.Mask} & {mask})";
        var elseMask = outerDevice.Mask is null ? $"(~{mask})" : $"{VectorType}.AndNot({outerDevice.Mask}, {mask})";
        var before = new Dictionary<(VarKind, string), Value>(_env);
        _varyingDepth++;

        var thenDevice = _device = new Devices(thenMask);
        foreach (var s in i.Then) Statement(s);
        var afterThen = _env;

        _env = new Dictionary<(VarKind, string), Value>(before);
        var elseDevice = _device = new Devices(elseMask);
        foreach (var s in i.Else) Statement(s);
        var afterElse = _env;

        _varyingDepth--;
        _device = outerDevice;
        _env = new Dictionary<(VarKind, string), Value>();
        foreach (var key in before.Keys)
        {
            var (a, b) = (afterThen[key], afterElse[key]);
            if (a == b) _env[key] = a;
            else if (a is Unassigned || b is Unassigned) _env[key] = new Unassigned();
            else
            {
                var register = LocalName(key.Item2);
                if (a is HostValue ta) AssignSlot(thenDevice, register, Materialize(ta, _host), ta.Type);
                if (b is HostValue tb) AssignSlot(elseDevice, register, Materialize(tb, _host), tb.Type);
                _env[key] = new DeviceValue(register);
            }
        }
        EmitBranches(_device.Cuda, $"if ({cudaCondition}) // {i.Source}", thenDevice.Cuda, elseDevice.Cuda);
        EmitBranches(_device.Scalar, $"if ({scalarCondition}) // {i.Source}", thenDevice.Scalar, elseDevice.Scalar);
        _device.Vector.Append(thenDevice.Vector);
        _device.Vector.Append(elseDevice.Vector);
    }

    /// <summary><paramref name="name"/> = <paramref name="value"/> in all three targets (masked in the vector one).</summary>
    void AssignDevice(Devices devices, string name, Expr value, ValueKind type, string comment)
    {
        _registers.Add(name);
        devices.Cuda.Line($"{name} = {Cuda(value)};{comment}");
        devices.Scalar.Line($"{name} = {Scalar(value)};{comment}");
        var vector = Vector(value);
        var code = type == ValueKind.Boolean ? AsMask(vector) : vector.Code;
        devices.Vector.Line(devices.Mask is null
            ? $"{name} = {code};{comment}"
            : $"{name} = {VectorType}.ConditionalSelect({devices.Mask}, {code}, {name});{comment}");
    }

    /// <summary><paramref name="name"/> = the host value in <paramref name="slot"/>, in all three targets.</summary>
    void AssignSlot(Devices devices, string name, int slot, ValueKind type)
    {
        _registers.Add(name);
        devices.Cuda.Line($"{name} = {Read(slot, type)};");
        devices.Scalar.Line($"{name} = {ScalarRead(slot, type)};");
        var code = type == ValueKind.Boolean ? AsMask(VectorRead(slot, type)) : VectorRead(slot, type).Code;
        devices.Vector.Line(devices.Mask is null ? $"{name} = {code};" : $"{name} = {VectorType}.ConditionalSelect({devices.Mask}, {code}, {name});");
    }

    static void EmitBranches(CodeWriter w, string header, CodeWriter then, CodeWriter otherwise)
    {
        w.Open(header);
        w.Append(then);
        w.Close();
        if (otherwise.ToString().Length == 0) return;
        w.Open("else");
        w.Append(otherwise);
        w.Close();
    }

    /// <summary>A fresh slot holding a host value, written by <paramref name="host"/>.</summary>
    int Materialize(HostValue value, CodeWriter host)
    {
        int slot = _slots++;
        host.Line(SlotAssignment(slot, value.Code, value.Type));
        return slot;
    }

    /// <summary>The slot holding a host value, written by the prologue at this point (reused while still valid).</summary>
    int Slot(string code, ValueKind type)
    {
        // Scalar state changes during the rule; a slot that reads it is tied to where it is read.
        bool shareable = !code.Contains(_state + ".");
        if (shareable && _slotMemo.TryGetValue(code, out var slot)) return slot;
        slot = _slots++;
        _host.Line(SlotAssignment(slot, code, type));
        if (shareable) _slotMemo[code] = slot;
        return slot;
    }

    string SlotAssignment(int slot, string code, ValueKind type) =>
        type == ValueKind.Boolean ? $"{_scalars}[{slot}] = {code} ? 1f : 0f;" : $"{_scalars}[{slot}] = (float){code};";

    string Host(Expr e) => HostExpressions.Write(e, HostName, h => HoistedName(h.Index));

    string HostName(Reference r) => r.Kind switch
    {
        VarKind.Hyper => _hyperVars[r.Name],
        VarKind.Step => _t,
        VarKind.ScalarState => $"{_state}.{Names.Pascal(r.Name)}",
        _ => _env[(r.Kind, r.Name)] is HostValue h ? h.Code : throw new System.InvalidOperationException($"'{r.Name}' has no host value here"),
    };

    string HoistedName(int index)
    {
        if (_hoisted.TryGetValue(index, out var name)) return name;
        var scalar = _model.Update.Hoisted[index];
        var code = Host(scalar.Value);
        name = _names.Take("h" + index);
        _host.Line($"{HostBindings.Type(scalar.Value.Type)} {name} = {code};");
        _hoisted[index] = name;
        return name;
    }

    static string StateName(string name) => "st_" + name;

    static string LocalName(string name) => "l_" + name;



}
