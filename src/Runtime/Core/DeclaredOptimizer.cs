using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

/// <summary>
/// The base of every generated optimizer: TorchSharp's <see cref="OptimizerHelper"/> (so <c>step()</c>,
/// <c>zero_grad()</c>, <c>state_dict()</c>, parameter groups and TorchSharp's LR schedulers work as usual) plus what
/// all declarations share: filling and validating each group's hyperparameters, allocating declared state, and
/// checking every parameter before any of them is changed. The generated class supplies the update itself.
/// </summary>
/// <typeparam name="TOptions">The generated per-group options.</typeparam>
/// <typeparam name="TState">The generated per-parameter state.</typeparam>
public abstract partial class DeclaredOptimizer<TOptions, TState> : DeclaredOptimizer
    where TOptions : DeclaredOptions, new()
    where TState : DeclaredState
{
    /// <summary>Creates the optimizer over <paramref name="groups"/>, each group's unset options taken from <paramref name="defaults"/>.</summary>
    protected DeclaredOptimizer(IEnumerable<ParamGroup> groups, TOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        defaults.Validate("the defaults");
        defaults.InitialLearningRate = defaults.LearningRate ?? 0;
        _defaults = defaults;
        _parameter_groups = new List<ParamGroup>();
        foreach (var group in groups) add_param_group(group);
    }

    /// <inheritdoc/>
    public override OptimizerSpec Spec => Defaults.Spec;

    /// <inheritdoc/>
    public override DeclaredOptions OptionsOf(int group) => (TOptions)_parameter_groups[group].Options;

    /// <summary>The options a group starts from when it does not set a value.</summary>
    public TOptions Defaults => (TOptions)_defaults;

    /// <summary>The parameter groups, with their typed options.</summary>
    public IReadOnlyList<ParamGroup<TOptions>> Groups =>
        _parameter_groups.Select(g => g as ParamGroup<TOptions> ?? new ParamGroup<TOptions>(g.Parameters, (TOptions)g.Options)).ToList();

    /// <summary>The state of <paramref name="parameter"/>.</summary>
    public TState StateOf(Parameter parameter) =>
        _state.ContainsKey(parameter.Handle) ? (TState)_state[parameter.Handle]
            : throw new ArgumentException($"{Spec.Name}: the parameter is not in any of this optimizer's groups.", nameof(parameter));

    /// <summary>Creates the (not yet allocated) state of one parameter.</summary>
    protected abstract TState CreateState(Parameter parameter);

    /// <summary>
    /// The declared update rule for one parameter tensor: <paramref name="state"/>.Step has already been
    /// advanced, so it is the rule's <c>t</c>. Runs under <c>no_grad</c> inside a dispose scope.
    /// </summary>
    protected abstract void Update(TOptions options, Tensor p, Tensor g, TState state);

    /// <summary>
    /// For rules with matrix work or global reductions: the update of one tensor as steps that yield each such
    /// request, so that the runtime answers them across tensors (see <see cref="StepsKind"/>); null otherwise.
    /// </summary>
    protected virtual IEnumerable<Backends.Portable.WholeTensorRequest>? UpdateSteps(TOptions options, Tensor p, Tensor g, TState state) => null;

    /// <summary>Whether <see cref="UpdateSteps"/> is used, and which tensors run in lockstep.</summary>
    protected virtual Backends.Portable.UpdateStepsKind StepsKind => Backends.Portable.UpdateStepsKind.None;

    /// <inheritdoc/>
    public override bool ReducesAcrossTensors => StepsKind == Backends.Portable.UpdateStepsKind.AllTensors;

    readonly List<(TOptions Options, Parameter P, Tensor G, TState State)> _stepsWork = new();

    /// <summary>The rule as a fused CUDA kernel, or null for a declaration without fused code.</summary>
    protected virtual CudaKernel? FusedKernel => null;

    /// <summary>The rule over one contiguous float32 CPU chunk (the fused CPU update), reading the host scalars.</summary>
    protected virtual void UpdateCpu(CpuChunk chunk, ReadOnlySpan<float> scalars) =>
        throw new NotSupportedException($"{Spec.Name} has no fused CPU update.");

    /// <summary>
    /// The host half of the rule for the fused kernel: computes the scalars the kernel reads for one parameter at its
    /// current step (and advances its scalar state, as the portable path does).
    /// </summary>
    protected virtual void FillScalars(TOptions options, TState state, Span<float> scalars) =>
        throw new NotSupportedException($"{Spec.Name} has no fused kernel.");

    /// <inheritdoc/>
    public override string FusedStatus =>
        string.Join("; ", new[] { _launcher?.Report ?? _fusedUnavailable, _cpuUsed ? _cpu.Report : null }.Where(r => r is not null))
        is { Length: > 0 } report ? report : FusedKernel is null ? NoFusedCode : "not used yet";

    /// <summary>What <see cref="FusedStatus"/> says when the declaration has no fused code, and why.</summary>
    protected virtual string NoFusedCode => "no fused code";

    FusedCudaLauncher? _launcher;
    string? _fusedUnavailable;
    readonly List<FusedItem> _fused = new();
    readonly FusedCpuRunner _cpu = new();
    CpuUpdate? _cpuUpdate;
    bool _cpuUsed;
    static int _fallbackReported;

    /// <inheritdoc/>
    /// <remarks>Checks the group completely before adding anything: options, and parameters already managed.</remarks>
    public override void add_param_group(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Parameters is null) throw new ArgumentException($"{Spec.Name}: parameter group {_parameter_groups.Count} has no parameters.");
        var parameters = group.Parameters.ToList();
        var where = $"parameter group {_parameter_groups.Count}";

        group.Options ??= new TOptions();
        if (group.Options is not TOptions options)
            throw new ArgumentException($"{Spec.Name}: {where} has options of type {group.Options.GetType().Name}; expected {typeof(TOptions).FullName}.");
        var candidate = new TOptions();
        candidate.LoadStateDict(options);
        candidate.FillFrom(Defaults);
        candidate.Validate(where);

        var seen = new HashSet<IntPtr>();
        foreach (var p in parameters)
        {
            if (p is null) throw new ArgumentException($"{Spec.Name}: {where} contains a null parameter.");
            if (!p.is_floating_point())
                throw new ArgumentException($"{Spec.Name}: {where} has a parameter of type {p.dtype}; optimizers update floating-point parameters only.");
            if (Spec.MatrixWork is { } matrix && p.dim() < Spec.MatrixDimensions)
                throw new ArgumentException(
                    $"{Spec.Name} works on matrices ({matrix}), but {where} has a parameter of shape [{string.Join(", ", p.shape)}]; " +
                    $"route parameters of fewer than {Spec.MatrixDimensions} dimension{(Spec.MatrixDimensions == 1 ? "" : "s")} to another optimizer (Routing.Route ... .Otherwise).");
            if (!seen.Add(p.Handle) || _state.ContainsKey(p.Handle))
                throw new ArgumentException($"{Spec.Name}: a parameter appears more than once among the parameter groups.");
        }

        options.FillFrom(Defaults);
        group.Parameters = parameters;
        _parameter_groups.Add(group);
        foreach (var p in parameters)
        {
            var state = CreateState(p);
            state.Initialize(options);
            QuantizeNew(state);
            _state[p.Handle] = state;
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Every group's hyperparameters and every parameter's gradient and state are checked first; an error
    /// leaves parameters and state untouched. Parameters without a gradient are skipped, as in PyTorch.
    /// float32, bfloat16 and float16 parameters on CUDA go to the fused kernel, float32 parameters on the CPU to the
    /// fused CPU loop (see <see cref="DeclaredOptimizer.Backend"/>), the rest to the portable path.
    /// </remarks>
    public override Tensor step(Func<Tensor>? closure = null) => Closures.StepWith(closure, () => RunStep(null));

    /// <summary>
    /// Whether every collected gradient is finite (one device reduction and one host read); under
    /// <see cref="NonFiniteGradients.Throw"/> a non-finite one throws, naming the first such parameter.
    /// </summary>
    bool GradientsFinite()
    {
        if (NonFiniteGradients == NonFiniteGradients.Update || _work.Count == 0) return true;
        if (Backends.Portable.Finite.All(_work.Select(w => w.G))) return true;
        using var scope = torch.NewDisposeScope();
        if (NonFiniteGradients == NonFiniteGradients.Throw)
        {
            var p = _work.First(w => !w.G.isfinite().all().item<bool>()).P;
            throw new InvalidOperationException(
                $"{Spec.Name}: the gradient of a parameter of shape [{string.Join(", ", p.shape)}] holds NaN or infinity; nothing was changed. " +
                "Set NonFiniteGradients = Skip to skip such steps (as mixed-precision training does).");
        }
        SkippedSteps++;
        return false;
    }

    /// <inheritdoc/>
    internal override bool RunStep(Func<bool>? beforeUpdate)
    {
        ThrowIfLocked();
        _work.Clear();
        _fused.Clear();
        try
        {
            ApplySchedules();
            CollectAndCheck();
            if (!GradientsFinite()) return false;
            if (beforeUpdate is not null && !beforeUpdate()) return false;
            ScaleGradientsOutsideKernel();
            foreach (var (options, p, g, state, fused) in _work)
            {
                state.Step++;
                if (fused != FusedTarget.None)
                {
                    state.AllocateMissing(options);
                    InitializeOnFirstStep(p, g, state);
                    // 8-bit state starts in 8 bits before the kernel reads it (after this, it never leaves them).
                    if (state.AnyQuantized) state.Pack();
                    state.FusedScalars ??= new float[Math.Max(1, FusedKernel!.ScalarCount)];
                    FillScalars(options, state, state.FusedScalars);
                    if (fused == FusedTarget.Cuda) _fused.Add(new FusedItem(p, g, state));
                    else _cpu.Add(p, g, state, state.FusedScalars);
                }
                else
                {
                    using var scope = torch.NewDisposeScope();
                    state.Unpack();
                    state.AllocateMissing(options);
                    InitializeOnFirstStep(p, g, state);
                    if (StepsKind != Backends.Portable.UpdateStepsKind.None) _stepsWork.Add((options, p, g, state));
                    else UpdatePortable(options, p, g, state);
                }
            }
            RunSteps();
            LaunchFused();
            _cpu.Run(_cpuUpdate ??= UpdateCpu);
            StepCount++;
            return true;
        }
        finally
        {
            // 8-bit state goes back to 8 bits after the update (or after a failure, with the values it had).
            foreach (var item in _work) item.State.Pack();
            foreach (var item in _work) item.G.Dispose();
            foreach (var (_, _, scale) in _gradientScales) scale.Dispose();
            _gradientScales.Clear();
            _gradientScale?.Dispose();
            _gradientScale = null;
            _work.Clear();
            _stepsWork.Clear();
            _fused.Clear();
        }
    }

    readonly List<(TOptions Options, Parameter P, Tensor G, TState State, FusedTarget Fused)> _work = new();

    // The gradient factor of the update under way (ScaleGradientsInUpdate), and its copies per device (float32 for the kernel).
    Tensor? _gradientScale;
    readonly List<(Device Device, bool Float32, Tensor Scale)> _gradientScales = new();

    internal override void ScaleGradientsInUpdate(Tensor coefficient)
    {
        if (coefficient.NumberOfElements != 1) throw new ArgumentException("The gradient factor is one value (a 0-d tensor).", nameof(coefficient));
        // The caller's tensor may belong to its dispose scope: keep a copy of our own until the step ends.
        _gradientScale?.Dispose();
        _gradientScale = coefficient.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>
    /// The gradient factor on <paramref name="device"/>, copied there once per step: as a contiguous float32 value for
    /// the kernel, else in the type it came in (an in-place multiply rounds it to the gradient's type, as clipping does).
    /// </summary>
    Tensor GradientScaleOn(Device device, bool float32)
    {
        foreach (var (d, f, scale) in _gradientScales)
            if (f == float32 && Devices.Same(d, device)) return scale;
        var copy = (float32 ? _gradientScale!.to(ScalarType.Float32) : _gradientScale!).to(device).reshape(Array.Empty<long>()).contiguous().DetachFromDisposeScope();
        _gradientScales.Add((device, float32, copy));
        return copy;
    }

    /// <summary>Applies a pending gradient factor in place to the gradients that the fused CUDA kernel will not scale itself.</summary>
    void ScaleGradientsOutsideKernel()
    {
        if (_gradientScale is null) return;
        foreach (var (_, _, g, _, fused) in _work)
            if (fused != FusedTarget.Cuda) g.mul_(GradientScaleOn(g.device, float32: false));
    }

    /// <summary>
    /// Collects the parameters that have gradients and checks everything a step needs — hyperparameters, gradients,
    /// state, and the path each parameter takes (which may compile the fused kernel) — before anything changes.
    /// A gradient already checked at an earlier step (same tensors) skips the full checks.
    /// </summary>
    void CollectAndCheck()
    {
        (int Device, ParamKind Kind) prepared = (-1, ParamKind.Float32);
        for (int i = 0; i < _parameter_groups.Count; i++)
        {
            var group = _parameter_groups[i];
            var options = (TOptions)group.Options;
            options.Validate($"parameter group {i}");
            foreach (var p in group.Parameters)
            {
                var g = p.grad;
                if (g is null) continue;
                var state = (TState)_state[p.Handle];
                _work.Add((options, p, g, state, FusedTarget.None));
                if (!state.IsCheckedFor(g))
                {
                    CheckGradient(p, g);
                    CheckState(p, state);
                    state.RememberChecked(g, FusedTargetOf(p, g, state));
                }
                var target = ChooseFused(p, state.FusedTarget, ref prepared);
                if (target != FusedTarget.None) _work[^1] = _work[^1] with { Fused = target };
            }
        }
    }

    /// <summary>The fused update that can take this parameter, its gradient and its state, if any.</summary>
    FusedTarget FusedTargetOf(Parameter p, Tensor g, TState state)
    {
        if (FusedKernel is null) return FusedTarget.None;
        // State not allocated yet will be created like the parameter, so it qualifies when the parameter does.
        if (FusedCudaLauncher.Accepts(p) && FusedCudaLauncher.Accepts(g) && state.Tensors.All(s => s is null || FusedCudaLauncher.AcceptsState(s)))
            return FusedTarget.Cuda;
        // 8-bit state: the CUDA kernel reads and writes it; the CPU loop does not (the portable path runs).
        if (!state.AnyQuantized && FusedCpuRunner.Accepts(p) && FusedCpuRunner.Accepts(g) && state.Tensors.All(s => s is null || FusedCpuRunner.Accepts(s)))
            return FusedTarget.Cpu;
        return FusedTarget.None;
    }

    /// <summary>Which update this parameter takes at this step; prepares the CUDA kernel once per device, type and step.</summary>
    FusedTarget ChooseFused(Parameter p, FusedTarget target, ref (int Device, ParamKind Kind) prepared)
    {
        if (Backend == UpdateBackend.Portable) return FusedTarget.None;
        bool forced = Backend == UpdateBackend.Fused;
        if (FusedKernel is not { } kernel)
            return forced ? throw new InvalidOperationException($"{Spec.Name} has no fused update.") : FusedTarget.None;
        if (target == FusedTarget.None)
            return forced
                ? throw new InvalidOperationException($"{Spec.Name}: the fused update takes contiguous float32 CPU tensors and contiguous float32, bfloat16 or float16 CUDA tensors; a parameter is {p.dtype} on {p.device}.")
                : FusedTarget.None;
        if (target == FusedTarget.Cpu)
        {
            _cpuUsed = true;
            return FusedTarget.Cpu;
        }
        if (_fusedUnavailable is not null) return forced ? throw new InvalidOperationException($"{Spec.Name}: {_fusedUnavailable}") : FusedTarget.None;
        var device = (p.device_index, FusedCudaLauncher.KindOf(p.dtype)!.Value);
        if (device == prepared) return FusedTarget.Cuda;
        try
        {
            _launcher ??= FusedCudaLauncher.TryCreate(kernel, out _fusedUnavailable);
            _launcher?.Prepare(device.Item1, device.Item2);
        }
        catch (InvalidOperationException e)
        {
            _launcher = null;
            _fusedUnavailable = e.Message;
        }
        if (_launcher is not null)
        {
            prepared = device;
            return FusedTarget.Cuda;
        }
        _fusedUnavailable = $"the fused CUDA path is unavailable: {_fusedUnavailable}; CUDA parameters use the portable path";
        if (forced) throw new InvalidOperationException($"{Spec.Name}: {_fusedUnavailable}");
        if (System.Threading.Interlocked.Exchange(ref _fallbackReported, 1) == 0) Console.Error.WriteLine($"OptDsl: {Spec.Name}: {_fusedUnavailable}.");
        return FusedTarget.None;
    }

    /// <summary>Launches the fused kernel over the collected parameters: one batch per device, type and set of scalars.</summary>
    void LaunchFused()
    {
        var items = CollectionsMarshal.AsSpan(_fused);
        for (int start = 0; start < items.Length;)
        {
            int end = start + 1;
            var scalars = items[start].State.FusedScalars!;
            while (end < items.Length && items[end].P.device_index == items[start].P.device_index
                   && items[end].P.dtype == items[start].P.dtype
                   && items[end].State.QuantizedMask == items[start].State.QuantizedMask
                   && items[end].State.FusedScalars.AsSpan().SequenceEqual(scalars))
                end++;
            var scale = _gradientScale is null ? IntPtr.Zero : TensorAddress.Of(GradientScaleOn(items[start].P.device, float32: true));
            _launcher!.Launch(items[start..end], scalars, scale);
            start = end;
        }
    }

    /// <summary>
    /// The portable updates of a rule that yields whole-tensor requests, run in lockstep: with matrix work only, the
    /// CUDA tensors of one matrix shape and type at a time (one dispose scope per group bounds the temporaries to the
    /// group's), each orthogonalisation answered for the group by one batched chain; with global reductions, every
    /// tensor of the step together. On the CPU a batched chain is slower than one matrix at a time (measured with
    /// benchmarks/OptDsl.CpuBench's Muon benchmark), so there matrix-only rules run each tensor alone.
    /// </summary>
    void RunSteps()
    {
        if (StepsKind == Backends.Portable.UpdateStepsKind.PerShape)
        {
            foreach (var (options, p, g, state) in _stepsWork.Where(w => w.P.device_type != DeviceType.CUDA))
            {
                using var alone = torch.NewDisposeScope();
                UpdatePortable(options, p, g, state);
            }
            _stepsWork.RemoveAll(w => w.P.device_type != DeviceType.CUDA);
        }
        var groups = StepsKind == Backends.Portable.UpdateStepsKind.AllTensors
            ? new[] { _stepsWork.AsEnumerable() }
            : _stepsWork.GroupBy(w => (w.P.shape[0], Backends.Portable.MatrixMath.ColumnCount(w.P), w.P.dtype, w.P.device_type, w.P.device_index))
                .Select(g => g.AsEnumerable());
        foreach (var group in groups)
        {
            using var scope = torch.NewDisposeScope();
            var updates = new List<IEnumerator<Backends.Portable.WholeTensorRequest>>();
            var halves = new List<(Parameter P, Tensor P32)>();
            foreach (var (options, p, g, state) in group)
            {
                // Half-precision parameters are computed in float32, like their state, and rounded once at the end.
                bool half = DeclaredState.StateType(p.dtype) != p.dtype;
                Tensor target = p, gradient = g;
                if (half)
                {
                    target = p.to(ScalarType.Float32);
                    gradient = g.to(ScalarType.Float32);
                    halves.Add((p, target));
                }
                updates.Add(UpdateSteps(options, target, gradient, state)!.GetEnumerator());
            }
            Backends.Portable.StepRunner.Run(updates);
            foreach (var (p, p32) in halves) p.copy_(p32);
        }
    }

    /// <summary>
    /// The portable update. Half-precision parameters are computed in float32, like their state, and rounded into
    /// the parameter once at the end, as the fused kernel does.
    /// </summary>
    void UpdatePortable(TOptions options, Parameter p, Tensor g, TState state)
    {
        if (DeclaredState.StateType(p.dtype) == p.dtype)
        {
            Update(options, p, g, state);
            return;
        }
        var p32 = p.to(ScalarType.Float32);
        Update(options, p32, g.to(ScalarType.Float32), state);
        p.copy_(p32);
    }

    /// <summary>State that starts from the first gradient or from the parameter, set just before the first update.</summary>
    void InitializeOnFirstStep(Parameter p, Tensor g, TState state)
    {
        if (state.Step != 1) return;
        for (int i = 0; i < Spec.States.Count; i++)
        {
            var init = Spec.States[i].Init;
            if (init == StateInitKind.FirstGradient) state.Tensors[i]?.copy_(g);
            else if (init == StateInitKind.Parameter) state.Tensors[i]?.copy_(p);
        }
    }

    void CheckGradient(Parameter p, Tensor g)
    {
        if (g.is_sparse)
            throw new InvalidOperationException($"{Spec.Name} does not support sparse gradients.");
        if (!g.shape.AsSpan().SequenceEqual(p.shape))
            throw new InvalidOperationException(
                $"{Spec.Name}: a gradient has shape [{string.Join(", ", g.shape)}] but its parameter has [{string.Join(", ", p.shape)}].");
        if (g.dtype != p.dtype)
            throw new InvalidOperationException($"{Spec.Name}: a gradient is {g.dtype} but its parameter is {p.dtype}.");
        if (!g.SameDevice(p))
            throw new InvalidOperationException($"{Spec.Name}: a gradient is on {g.device} but its parameter is on {p.device}.");
    }

    void CheckState(Parameter p, TState state)
    {
        for (int i = 0; i < state.Tensors.Length; i++)
        {
            if (state.Tensors[i] is not { } s) continue;
            if (!s.shape.AsSpan().SequenceEqual(state.ShapeOf(Spec.States[i])))
                throw new InvalidOperationException(
                    $"{Spec.Name}: state '{Spec.States[i].Name}' has shape [{string.Join(", ", s.shape)}] but its parameter has [{string.Join(", ", p.shape)}]; was the parameter replaced?");
            if (!s.SameDevice(p))
                throw new InvalidOperationException(
                    $"{Spec.Name}: state '{Spec.States[i].Name}' is on {s.device} but its parameter is on {p.device}; call optimizer.to({p.device}) after moving the model.");
            if (s.dtype != DeclaredState.StateType(p.dtype))
                throw new InvalidOperationException(
                    $"{Spec.Name}: state '{Spec.States[i].Name}' is {s.dtype}; a {p.dtype} parameter keeps {DeclaredState.StateType(p.dtype)} state.");
        }
    }

    /// <inheritdoc/>
    /// <remarks>Checks every group's options and every parameter's state before replacing anything.</remarks>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ThrowIfLocked();
        var current = this.state_dict();
        if (state_dict.Options.Count != current.Options.Count)
            throw new ArgumentException($"{Spec.Name}: the state has {state_dict.Options.Count} parameter groups, this optimizer has {current.Options.Count}.");
        if (state_dict.State.Count != current.State.Count)
            throw new ArgumentException($"{Spec.Name}: the state covers {state_dict.State.Count} parameters, this optimizer has {current.State.Count}.");
        foreach (var o in state_dict.Options)
            if (o is not DeclaredOptions d || d.Spec.Name != Spec.Name)
                throw new ArgumentException($"{Spec.Name}: the state holds options of {o?.GetType().Name ?? "null"}.");
        foreach (var s in state_dict.State)
            if (s is not DeclaredState d || d.Spec.Name != Spec.Name)
                throw new ArgumentException($"{Spec.Name}: the state holds parameter state of {s?.GetType().Name ?? "null"}.");
        base.load_state_dict(state_dict);
    }

    /// <summary>
    /// Loads TorchSharp's stream format (written by <c>save_state_dict</c>). TorchSharp reads it into the optimizer
    /// parameter by parameter; should the stream fail part-way (truncated, another layout), every group's options and
    /// every parameter's state are put back as they were before the error is rethrown. (The snapshot costs a copy of
    /// the state during the load; <see cref="DeclaredOptimizer.LoadCheckpoint"/> checks a whole file before touching
    /// anything and needs none.)
    /// </summary>
    public new void load_state_dict(System.IO.BinaryReader reader)
    {
        ThrowIfLocked();
        var savedOptions = _parameter_groups.Select(g =>
        {
            var copy = new TOptions();
            copy.LoadStateDict(g.Options);
            return copy;
        }).ToList();
        var savedStates = AllParameters.Select(p =>
        {
            var copy = CreateState(p);
            copy.LoadStateDict(_state[p.Handle]);
            return (P: p, State: copy);
        }).ToList();
        try
        {
            base.load_state_dict(reader);
        }
        catch
        {
            for (int g = 0; g < savedOptions.Count; g++) _parameter_groups[g].Options.LoadStateDict(savedOptions[g]);
            foreach (var (p, s) in savedStates) _state[p.Handle].LoadStateDict(s);
            throw;
        }
        finally
        {
            foreach (var (_, s) in savedStates) s.Dispose();
        }
    }

    /// <summary>Loads TorchSharp's format from a file; see <see cref="load_state_dict(System.IO.BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = System.IO.File.OpenRead(location);
        using var reader = new System.IO.BinaryReader(stream);
        load_state_dict(reader);
    }

    /// <inheritdoc/>
    protected override void WriteCheckpointBody(System.IO.BinaryWriter writer)
    {
        foreach (var group in _parameter_groups) group.Options.SaveStateDict(writer);
        foreach (var group in _parameter_groups)
            foreach (var p in group.Parameters) _state[p.Handle].SaveStateDict(writer);
    }

    /// <inheritdoc/>
    protected override Action StageCheckpointBody(System.IO.BinaryReader reader)
    {
        var options = new List<TOptions>();
        var states = new List<(Parameter P, TState State)>();
        try
        {
            for (int g = 0; g < _parameter_groups.Count; g++)
            {
                var staged = new TOptions();
                staged.LoadStateDict(reader);
                staged.Validate($"parameter group {g} of the checkpoint");
                options.Add(staged);
            }
            foreach (var group in _parameter_groups)
                foreach (var p in group.Parameters)
                {
                    var staged = CreateState(p);
                    QuantizeNew(staged);
                    states.Add((p, staged));
                    staged.LoadStateDict(reader);
                }
        }
        catch
        {
            foreach (var (_, s) in states) s.Dispose();
            throw;
        }
        return () =>
        {
            for (int g = 0; g < options.Count; g++) _parameter_groups[g].Options.LoadStateDict(options[g]);
            foreach (var (p, s) in states)
            {
                (_state[p.Handle] as IDisposable)?.Dispose();
                _state[p.Handle] = s;
            }
        };
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var entry in _state) (entry.Item2 as IDisposable)?.Dispose();
        base.Dispose(disposing);
    }
}
