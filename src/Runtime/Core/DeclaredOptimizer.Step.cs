using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredOptimizer<TOptions, TState>
{
    /// <inheritdoc/>
    /// <remarks>
    /// Every group's hyperparameters and every parameter's gradient and state are checked first; an error
    /// leaves parameters, state and options untouched. Parameters without a gradient are skipped, as in PyTorch; a
    /// step in which no parameter has one changes nothing and is not counted (<see cref="DeclaredOptimizer.StepCount"/>
    /// and the schedules stay where they were).
    /// float32, bfloat16 and float16 parameters on CUDA go to the fused kernel, float32 parameters on the CPU to the
    /// fused CPU loop (see <see cref="DeclaredOptimizer.Backend"/>), the rest to the portable path.
    /// </remarks>
    public override Tensor step(Func<Tensor>? closure = null) => Closures.StepWith(closure, () => RunStep(null));

    // The parameters of the step under way, with the backend each goes to (an index into UpdatePaths).
    readonly List<(TOptions Options, Parameter P, Tensor G, TState State, int Backend, int Group)> _work = new();

    // The gradient factor of the update under way (ScaleGradientsInUpdate).
    readonly GradientFactor _gradientFactor = new();

    IUpdateBackend[]? _backends;
    int _portable;
    bool[] _unavailableNoted = Array.Empty<bool>();
    static int _fallbackReported;

    /// <summary>
    /// The backends that run this declaration's update, in the order of <see cref="UpdateBackends"/>, built at first
    /// use over delegates to the generated code; the portable one, which takes any parameter, is at <c>_portable</c>.
    /// </summary>
    IUpdateBackend[] UpdatePaths
    {
        get
        {
            if (_backends is not null) return _backends;
            var rule = new UpdateRule(
                (i, p, g) => Update(_work[i].Options, p, g, _work[i].State),
                StepsKind == UpdateStepsKind.None ? null : (i, p, g) => UpdateSteps(_work[i].Options, p, g, _work[i].State)!,
                StepsKind,
                FusedKernel,
                FusedKernel is null || FusedKernel.Reductions is not null ? null : UpdateCpu,
                FusedKernel?.Reductions is null ? null : UpdateCpuPhase,
                FusedKernel?.Reductions is { HostReadsResults: true } ? RunHostAgain : null);
            var backends = UpdateBackends.For(rule);
            _portable = Array.FindIndex(backends, b => !b.Fused);
            _unavailableNoted = new bool[backends.Length];
            return _backends = backends;
        }
    }

    /// <summary>
    /// Whether every collected gradient is finite (one device reduction and one host read); under
    /// <see cref="NonFiniteGradients.Throw"/> a non-finite one throws, naming the first such parameter.
    /// </summary>
    bool GradientsFinite()
    {
        if (NonFiniteGradients == NonFiniteGradients.Update || _work.Count == 0) return true;
        if (Finite.All(_work.Select(w => w.G))) return true;
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
    /// <remarks>
    /// Each parameter's state is readied for its backend — allocated, initialised at the first step, and for fused code
    /// packed into 8 bits with the host scalars filled, else unpacked to full precision — and its item added to the
    /// backend (the portable one updates it then); then every backend runs, in registry order.
    /// </remarks>
    internal override StepOutcome RunStep(Func<bool>? beforeUpdate)
    {
        ThrowIfLocked();
        _work.Clear();
        var backends = UpdatePaths;
        bool updating = false;
        try
        {
            ApplySchedules();
            CollectAndCheck();
            if (_work.Count == 0) return StepOutcome.NothingToUpdate;
            if (!GradientsFinite()) return StepOutcome.Skipped;
            if (beforeUpdate is not null && !beforeUpdate()) return StepOutcome.Skipped;
            updating = true;
            ScaleGradientsOutsideKernel();
            for (int i = 0; i < _work.Count; i++)
            {
                var (options, p, g, state, backend, group) = _work[i];
                state.Step++;
                bool compensated = Rounding == HalfPrecisionRounding.Kahan && Precision.ComputeType(p.dtype) != p.dtype;
                if (backends[backend].Fused)
                {
                    state.Compensate(compensated);
                    state.AllocateMissing(options);
                    InitializeOnFirstStep(p, g, state);
                    // 8-bit state starts in 8 bits before the kernel reads it (after this, it never leaves them).
                    if (state.AnyQuantized) state.Pack();
                    state.FusedScalars ??= new float[Math.Max(1, FusedKernel!.ScalarCount)];
                    if (FusedKernel!.Reductions is { HostReadsResults: true } plan)
                    {
                        // Run again after each phase, from the scalar state of now (see RunHostAgain).
                        state.RememberScalars();
                        if (_noResults.Length != plan.Reductions.Length) _noResults = new float[plan.Reductions.Length];
                        FillScalars(options, state, state.FusedScalars, _noResults);
                    }
                    else FillScalars(options, state, state.FusedScalars);
                }
                else
                {
                    using var scope = torch.NewDisposeScope();
                    state.Unpack();
                    state.AllocateMissing(options);
                    InitializeOnFirstStep(p, g, state);
                    state.Compensate(compensated);
                }
                backends[backend].Add(ItemOf(p, g, state, i, group));
            }
            foreach (var backend in backends) backend.Run(_gradientFactor);
            StepCount++;
            return StepOutcome.Updated;
        }
        finally
        {
            // A step refused, skipped or with nothing to update takes back the scheduled values it set.
            if (!updating) RestoreScheduled();
            // 8-bit state goes back to 8 bits after the update (or after a failure, with the values it had).
            foreach (var item in _work) item.State.Pack();
            foreach (var item in _work) item.G.Dispose();
            foreach (var backend in backends) backend.EndStep();
            _gradientFactor.Clear();
            _work.Clear();
        }
    }

    /// <summary>
    /// Parameter <paramref name="index"/> of the step as the backends take it; index −1 is the item a backend is chosen
    /// by, before the step allocates or frees the Kahan buffer: it carries the buffer as it will be (the parameter
    /// itself stands in for one not allocated yet, being of its type, device and layout), so that a backend that cannot
    /// compensate (the 8-bit CUDA kernel) does not take it, nor is refused one by a buffer about to be freed.
    /// </summary>
    UpdateItem ItemOf(Parameter p, Tensor g, TState state, int index, int group = 0) =>
        new(p, g, state.Tensors, state.Quantized, state.FusedScalars ?? Array.Empty<float>(), index,
            Rounding == HalfPrecisionRounding.Stochastic && p.dtype == ScalarType.BFloat16 ? StochasticRounding.Key(RoundingSeed, state.Step, state.Ordinal) : null,
            index >= 0 ? state.Compensation
            : Rounding == HalfPrecisionRounding.Kahan && Precision.ComputeType(p.dtype) != p.dtype ? state.Compensation ?? p : null,
            group);

    // The results the host half reads before the first phase, where it reads them at all: none known yet.
    float[] _noResults = Array.Empty<float>();

    /// <summary>
    /// The host half of item <paramref name="index"/> run again after a phase, with the results known by then, from the
    /// scalar state of the step's start: its last run leaves the scalar state and scalars of the whole step.
    /// </summary>
    void RunHostAgain(int index, ReadOnlySpan<float> results)
    {
        var (options, _, _, state, _, _) = _work[index];
        state.RestoreScalars();
        FillScalars(options, state, state.FusedScalars!, results);
    }

    internal override void ScaleGradientsInUpdate(Tensor coefficient)
    {
        if (coefficient.NumberOfElements != 1) throw new ArgumentException("The gradient factor is one value (a 0-d tensor).", nameof(coefficient));
        _gradientFactor.Set(coefficient);
    }

    /// <summary>Applies a pending gradient factor in place to the gradients that go to backends that do not scale them themselves.</summary>
    void ScaleGradientsOutsideKernel()
    {
        if (!_gradientFactor.IsSet) return;
        foreach (var (_, _, g, _, backend, _) in _work)
            if (!UpdatePaths[backend].ScalesGradients) g.mul_(_gradientFactor.On(g.device, float32: false));
    }

    /// <summary>
    /// Collects the parameters that have gradients and checks everything a step needs — hyperparameters, gradients,
    /// state, and the backend each parameter takes (which may compile the fused kernel) — before anything changes.
    /// A gradient already checked at an earlier step (same tensors) skips the full checks.
    /// </summary>
    void CollectAndCheck()
    {
        _portableAtLastStep = default;
        int ordinal = RoundingOrdinalOffset;
        for (int i = 0; i < _parameter_groups.Count; i++)
        {
            var group = _parameter_groups[i];
            var options = (TOptions)group.Options;
            options.Validate($"parameter group {i}");
            foreach (var p in group.Parameters)
            {
                var g = p.grad;
                var state = (TState)_state[p.Handle];
                state.Ordinal = ordinal++;
                if (g is null) continue;
                if (Rounding == HalfPrecisionRounding.Stochastic && p.dtype == ScalarType.Float16)
                    throw new InvalidOperationException($"{Spec.Name}: stochastic rounding takes bfloat16 parameters; a parameter is Float16 (its steps are not a truncation of float32's bits). Use bfloat16, or Rounding = Nearest.");
                _work.Add((options, p, g, state, _portable, i));
                // How half-precision results are stored decides the backend too (the 8-bit kernel rounds to nearest only).
                if (!state.IsCheckedFor(g) || state.CheckedRounding != Rounding)
                {
                    CheckGradient(p, g);
                    CheckState(p, state);
                    state.RememberChecked(g, AcceptingBackend(ItemOf(p, g, state, -1)));
                    state.CheckedRounding = Rounding;
                }
                var backend = Choose(ItemOf(p, g, state, -1), state.AcceptedBy);
                if (backend != _portable) _work[^1] = _work[^1] with { Backend = backend };
            }
        }
        KeepReductionsWhole();
    }

    bool OneBackend()
    {
        for (int k = 1; k < _work.Count; k++) if (_work[k].Backend != _work[0].Backend) return false;
        return true;
    }

    /// <summary>
    /// A rule that reduces over the step or a group needs all its tensors in one backend: where they would go to
    /// several (CPU and CUDA tensors, or some the fused path does not take), every one takes the portable path.
    /// </summary>
    void KeepReductionsWhole()
    {
        if (FusedKernel?.Reductions is not { CrossesTensors: true } || OneBackend()) return;
        if (Backend == UpdateBackend.Fused)
            throw new InvalidOperationException($"{Spec.Name} reduces over every tensor of the step, and the fused update cannot take all of them (they are on several devices or of types it does not take).");
        for (int k = 0; k < _work.Count; k++)
        {
            if (_work[k].Backend == _portable) continue;
            var (_, p, g, state, _, group) = _work[k];
            _work[k] = _work[k] with { Backend = Portable(PortableReason.Split, ItemOf(p, g, state, -1, group)) };
        }
    }

    /// <summary>
    /// The first backend that can take this parameter, its gradient and its state (state not allocated yet will be
    /// created like the parameter, so it qualifies when the parameter does); the portable one takes any.
    /// </summary>
    int AcceptingBackend(in UpdateItem item)
    {
        var backends = UpdatePaths;
        for (int k = 0; k < backends.Length; k++)
            if (backends[k].Accepts(item)) return k;
        return _portable;
    }

    /// <summary>
    /// Which backend updates this parameter at this step, as <see cref="DeclaredOptimizer.Backend"/> asks: the one that
    /// accepted it, readied for it (which may compile its kernel), else the portable one — or, where the fused update is
    /// required, an error saying why it cannot run.
    /// </summary>
    int Choose(in UpdateItem item, int accepted)
    {
        if (Backend == UpdateBackend.Portable) return Portable(PortableReason.Asked, item);
        bool forced = Backend == UpdateBackend.Fused;
        if (FusedKernel is null)
            return forced ? throw new InvalidOperationException($"{Spec.Name} has no fused update.") : _portable;
        if (accepted == _portable)
            return forced
                ? throw new InvalidOperationException($"{Spec.Name}: the fused update takes contiguous float32 CPU tensors and contiguous float32, bfloat16 or float16 CUDA tensors; a parameter is {item.Parameter.dtype} on {item.Parameter.device}.")
                : Portable(PortableReason.NotTaken, item);
        if (UpdatePaths[accepted].Prepare(item) is not { } unavailable) return accepted;
        // Said once (on the error stream, once a process for the declaration) when the fallback is first taken.
        if (!_unavailableNoted[accepted])
        {
            _unavailableNoted[accepted] = true;
            if (!forced && System.Threading.Interlocked.Exchange(ref _fallbackReported, 1) == 0)
                Console.Error.WriteLine($"OptDsl: {Spec.Name}: {unavailable}.");
        }
        return forced ? throw new InvalidOperationException($"{Spec.Name}: {unavailable}") : Portable(PortableReason.Unavailable, item);
    }

    /// <summary>Why parameters of a declaration with fused code took the portable path at the last step, for <c>FusedStatus</c>.</summary>
    enum PortableReason { None, Asked, NotTaken, Unavailable, Split }

    // What the last step sent to the portable path although the declaration has fused code: how many parameters, why,
    // and the type and device of one the fused update does not take (values only: nothing is formatted per step).
    (int Count, PortableReason Why, ScalarType Type, DeviceType Device) _portableAtLastStep;

    int Portable(PortableReason why, in UpdateItem item)
    {
        var last = _portableAtLastStep;
        _portableAtLastStep = why == PortableReason.NotTaken && last.Why != PortableReason.NotTaken
            ? (last.Count + 1, why, item.Parameter.dtype, item.Parameter.device_type)
            // A step kept whole on the portable path says so, whatever sent its first parameter there.
            : why == PortableReason.Split ? (last.Count + 1, why, last.Type, last.Device)
            : (last.Count + 1, last.Why == PortableReason.None ? why : last.Why, last.Type, last.Device);
        return _portable;
    }

    /// <summary>What <c>FusedStatus</c> says of the last step's parameters on the portable path, or null.</summary>
    string? PortableStatus(int parameters)
    {
        var (count, why, type, device) = _portableAtLastStep;
        if (count == 0 || FusedKernel is null) return null;
        var reason = why switch
        {
            PortableReason.Asked => "Backend is Portable",
            PortableReason.NotTaken => $"{type} on {device}, which the fused update does not take",
            PortableReason.Split => "the rule reduces over every tensor of the step, and the fused update does not take all of them",
            _ => "the fused path is unavailable",
        };
        return $"portable path for {count} of {parameters} parameters at the last step ({reason})";
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
}
