using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Backends.Cuda;
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

    /// <summary>The rule as a fused CUDA kernel, or null for a declaration without fused code.</summary>
    protected virtual CudaKernel? FusedKernel => null;

    /// <summary>The rule over one contiguous float32 CPU chunk (the fused CPU update), reading the host scalars.</summary>
    protected virtual void UpdateCpu(CpuChunk chunk, ReadOnlySpan<float> scalars) =>
        throw new NotSupportedException($"{Spec.Name} has no fused CPU update.");

    /// <summary>
    /// For a rule with reductions (<see cref="CudaKernel.Reductions"/>), phase <paramref name="phase"/> of the fused CPU
    /// update over one chunk: reads earlier phases' <paramref name="results"/>, accumulates its reductions' partials over
    /// the chunk into <paramref name="partials"/>; only the last phase writes.
    /// </summary>
    protected virtual void UpdateCpuPhase(int phase, CpuChunk chunk, ReadOnlySpan<float> scalars, ReadOnlySpan<float> results, Span<float> partials) =>
        throw new NotSupportedException($"{Spec.Name} has no fused CPU phases.");

    /// <summary>
    /// The host half of the rule for the fused kernel: computes the scalars the kernel reads for one parameter at its
    /// current step (and advances its scalar state, as the portable path does).
    /// </summary>
    protected virtual void FillScalars(TOptions options, TState state, Span<float> scalars) =>
        throw new NotSupportedException($"{Spec.Name} has no fused kernel.");

    /// <summary>
    /// The host half of a rule whose scalar state takes values from reductions
    /// (<see cref="ReductionPlan.HostReadsResults"/>): as the other overload, reading the reductions' results known so far
    /// from <paramref name="results"/> (0 for those not computed yet). The runtime runs it before the first phase and
    /// again after each, from the scalar state of the step's start; the last run leaves the step's values.
    /// </summary>
    protected virtual void FillScalars(TOptions options, TState state, Span<float> scalars, ReadOnlySpan<float> results) =>
        FillScalars(options, state, scalars);

    /// <inheritdoc/>
    /// <remarks>What each backend reports, in the order of <see cref="UpdateBackends"/>, and why parameters took the portable path at the last step.</remarks>
    public override string FusedStatus =>
        string.Join("; ", UpdatePaths.Select(b => b.Report).Append(PortableStatus(AllParameters.Count())).Where(r => r is not null))
        is { Length: > 0 } report ? report : FusedKernel is null ? NoFusedCode : "not used yet";

    /// <summary>What <see cref="FusedStatus"/> says when the declaration has no fused code, and why.</summary>
    protected virtual string NoFusedCode => "no fused code";

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
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var entry in _state) (entry.Item2 as IDisposable)?.Dispose();
        base.Dispose(disposing);
    }
}
