using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Native;
using OptDsl.Runtime.Services.Random;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// PSGD Kron (Xi-Lin Li, 2018, "Preconditioned Stochastic Gradient Descent", arXiv:1512.04202; 2024, "Stochastic Hessian
/// Fittings with Lie Groups", arXiv:2402.11858): psgd_torch's <c>Kron</c> of December 2024 as a gradient-whitening
/// preconditioner, run the way kron_torch and heavyball's <c>ForeachPSGDKron</c> run it.
/// A parameter with dimensions n₁…n_d keeps one factor Q_i per dimension — upper-triangular n_i×n_i, or diagonal where
/// n_i exceeds <c>maxSizeTriangular</c>, is 1, or the parameter is a vector — and its preconditioner is
/// <c>P = QᵀQ</c> with <c>Q = Q₁ ⊗ … ⊗ Q_d</c>, fitted on the Lie group of such matrices so that P whitens the momentum.
/// </summary>
/// <remarks>
/// <para>A step, with t the parameter's step:</para>
/// <list type="number">
/// <item><c>m ← β₁m + (1 − β₁)g</c>, <c>m̂ = m/(1 − β₁ᵗ)</c> (kron_torch's debiased EMA; the author's classes start m at
/// <c>(1 − β)g</c> instead).</item>
/// <item>At t = 1 every factor is <c>s^(1/d)·I</c> (diagonal: <c>s^(1/d)·1</c>) with s = <c>initScale</c>, or with
/// <c>initScale</c> 0 the author's whitening guess <c>s = mean(m̂⁴)^(−1/8)</c> (1 where that is not finite).</item>
/// <item>On update steps — t = 1 always (the author fits at initialisation), later when the uniform
/// <c>CounterRandom.Uniform(seed, 0, t)</c> ≤ p(t), see <see cref="PsgdKronOptions.UpdateProbability"/> (heavyball's
/// schedule: 1 for 1000 steps, then ×0.999 a step down to 0.03) — the factors are first balanced to a common max-abs
/// (their geometric mean; P is unchanged) when <c>CounterRandom.Uniform(seed, 1, t)</c> ≤ 0.01 and d &gt; 1, as
/// kron_torch does about once in 100 updates. Then Q is fitted on the pair (V, h) with the probe V =
/// <c>CounterRandomTensors.Normal(seed, 2 + k, shape, device, (t − 1)·numel)</c> (k: the parameter's position in the
/// groups) and <c>h = m̂ + √ε₃₂·mean|m̂|·V</c>: the momentum is whitened (kron_torch's
/// <c>momentum_into_precond_update</c>; the author's whitening fits on the gradient), with kron_torch's damping (the
/// author's is 2⁻¹³), and unlike kron_torch the damped h is not what is preconditioned afterwards. With <c>A = Q h</c> and <c>B = Q⁻ᵀ V</c> (each factor applied along its
/// dimension), for each i, with X₍ᵢ₎ the unfolding of X along dimension i,
/// <c>Q_i ← Q_i − η/‖A₍ᵢ₎A₍ᵢ₎ᵀ + B₍ᵢ₎B₍ᵢ₎ᵀ‖ · triu(A₍ᵢ₎A₍ᵢ₎ᵀ − B₍ᵢ₎B₍ᵢ₎ᵀ) Q_i</c> — the classic update
/// <c>dQ = E·Q</c>, the step normalised by second-order information (<c>step_normalizer='2nd'</c>), the norm the
/// author's cheap lower bound of the spectral norm (one power step from the largest column); a diagonal factor uses
/// the diagonals and their largest entry. Every factor's step uses A and B from the Q before the step.</item>
/// <item><c>u = P m̂</c> with the new Q, clipped to RMS at most <c>updateClip</c>: <c>u·min(1, c/(rms(u) + 10⁻¹²))</c>
/// (kron_torch).</item>
/// <item><c>w ← w(1 − η·λ) − η·u</c>: decoupled weight decay (on every parameter; kron_torch spares vectors, heavyball
/// does not).</item>
/// </list>
/// <para>Defaults: lr 3e-4 and b1 0.9 as kron_torch; maxSizeTriangular 2048 as heavyball; preconditioner lr 0.1, update
/// clip 1.1. Computed in float32 (float64 for float64 parameters). State: <c>m</c> and <c>q0</c>…<c>q(d−1)</c>
/// (a scalar parameter is seen as a 1-vector). The draws depend only on (seed, k, t), so a run is reproducible and
/// resumes from <c>state_dict</c> bit for bit.</para>
/// </remarks>
public sealed class PsgdKron : OptimizerHelper, IStateMemory
{
    static PsgdKron() => TorchSharpNative.EnsureLoadable();

    const string Name = "PSGD Kron";
    /// <summary>The streams of <see cref="CounterRandom"/> under the seed: update draws, balancing draws, then one per parameter's probes.</summary>
    public const ulong UpdateStream = 0, BalanceStream = 1, FirstProbeStream = 2;
    /// <summary>The chance that an update step balances the factors first.</summary>
    public const double BalanceProbability = 0.01;
    /// <summary>The damping of the fitted pair, √ε of float32 (kron_torch's).</summary>
    public static readonly double Damping = Math.Sqrt(Math.Pow(2, -23));

    readonly Dictionary<IntPtr, int> _index = new();

    /// <summary>Creates PSGD Kron over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">The step size.</param>
    /// <param name="beta1">The momentum's decay.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="updateProbability">A constant preconditioner-update probability; null: the annealed schedule.</param>
    /// <param name="maxSizeTriangular">Longer dimensions get a diagonal factor.</param>
    /// <param name="diagonalVectors">Vectors get a diagonal factor whatever their length.</param>
    /// <param name="preconditionerLr">The preconditioner's step size.</param>
    /// <param name="initScale">Q's initial scale; null: from the first gradient.</param>
    /// <param name="updateClip">The largest RMS of a parameter's step (0: none).</param>
    /// <param name="seed">The seed of the probes and draws.</param>
    public PsgdKron(IEnumerable<Parameter> parameters, double lr = 3e-4, double beta1 = 0.9, double weightDecay = 0, double? updateProbability = null,
        int maxSizeTriangular = 2048, bool diagonalVectors = true, double preconditionerLr = 0.1, double? initScale = null, double updateClip = 1.1,
        ulong seed = 0)
        : this(new[] { new ParamGroup<PsgdKronOptions>(parameters, new PsgdKronOptions()) }, new PsgdKronOptions
        {
            LearningRate = lr, InitialLearningRate = lr, Beta1 = beta1, WeightDecay = weightDecay, MaxSizeTriangular = maxSizeTriangular,
            DiagonalVectors = diagonalVectors, PreconditionerLearningRate = preconditionerLr, InitScale = initScale ?? 0, UpdateClip = updateClip,
            MaxUpdateProbability = updateProbability ?? 1, MinUpdateProbability = updateProbability ?? 0.03, FlatSteps = 1000,
            UpdateProbabilityDecay = 0.999, Seed = seed,
        })
    {
    }

    /// <summary>Creates PSGD Kron over parameter groups; what a group leaves unset comes from <paramref name="defaults"/>.</summary>
    public PsgdKron(IEnumerable<ParamGroup<PsgdKronOptions>> groups, PsgdKronOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(defaults);
        defaults.Validate(Name, "the defaults");
        _defaults = defaults;
        _parameter_groups = new List<ParamGroup>();
        foreach (var g in groups) add_param_group(g);
    }

    /// <inheritdoc/>
    /// <remarks>Before a parameter's first step: its momentum and factors as they will be.</remarks>
    public long StateBytes
    {
        get
        {
            long bytes = 0;
            foreach (var group in _parameter_groups)
                foreach (var p in group.Parameters)
                {
                    var s = (KroneckerState)_state[p.Handle];
                    var type = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
                    for (int i = 0; i <= Dims(p).Length; i++)
                        bytes += s.Tensors[i] is { } t ? StateMemory.Bytes(t) : StateMemory.Bytes(SlotShape(p, i, (PsgdKronOptions)group.Options), type);
                }
            return bytes;
        }
    }

    /// <summary>The state of <paramref name="parameter"/>: <c>m</c>, <c>q0</c>, <c>q1</c>, ….</summary>
    public KroneckerState StateOf(Parameter parameter) =>
        _state.TryGetValue(parameter.Handle, out var s) ? (KroneckerState)s : throw new ArgumentException($"{Name}: the parameter is not in any group.", nameof(parameter));

    /// <summary>The dimensions a parameter is preconditioned along (a scalar: one of length 1).</summary>
    static long[] Dims(Tensor p) => p.dim() == 0 ? new long[] { 1 } : p.shape;

    /// <summary>Whether dimension <paramref name="i"/> of <paramref name="p"/> gets a triangular factor.</summary>
    static bool Triangular(Tensor p, int i, PsgdKronOptions o)
    {
        long n = Dims(p)[i];
        return n > 1 && n <= o.MaxSizeTriangular!.Value && (p.dim() >= 2 || !o.DiagonalVectors!.Value);
    }

    /// <summary>Slot 0: the momentum, shaped like the parameter; slot 1 + i: factor i, n×n or n.</summary>
    static long[] SlotShape(Parameter p, int slot, PsgdKronOptions o)
    {
        if (slot == 0) return Dims(p);
        long n = Dims(p)[slot - 1];
        return Triangular(p, slot - 1, o) ? new[] { n, n } : new[] { n };
    }

    /// <summary>The options of parameter group <paramref name="group"/> (in the order the groups were added).</summary>
    public PsgdKronOptions OptionsOf(int group) => (PsgdKronOptions)_parameter_groups[group].Options;

    PsgdKronOptions OptionsFor(Parameter p)
    {
        foreach (var group in _parameter_groups)
            foreach (var q in group.Parameters)
                if (q.Handle == p.Handle) return (PsgdKronOptions)group.Options;
        return (PsgdKronOptions)_defaults;
    }

    /// <inheritdoc/>
    public override void add_param_group(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var options = group.Options as PsgdKronOptions ?? (group.Options is null ? new PsgdKronOptions() :
            throw new ArgumentException($"{Name}: a group's options are {group.Options.GetType().Name}; expected PsgdKronOptions."));
        options.FillFrom((PsgdKronOptions)_defaults);
        options.Validate(Name, $"parameter group {_parameter_groups.Count}");
        var parameters = group.Parameters?.ToList() ?? throw new ArgumentException($"{Name}: a parameter group has no parameters.");
        foreach (var p in parameters)
        {
            if (p is null || !p.is_floating_point()) throw new ArgumentException($"{Name} updates floating-point parameters only.");
            if (_state.ContainsKey(p.Handle) || parameters.Count(q => q.Handle == p.Handle) > 1)
                throw new ArgumentException($"{Name}: a parameter appears more than once among the groups.");
        }
        group.Options = options;
        group.Parameters = parameters;
        _parameter_groups.Add(group);
        foreach (var p in parameters)
        {
            var names = new[] { "m" }.Concat(Enumerable.Range(0, Dims(p).Length).Select(i => $"q{i}")).ToArray();
            _index[p.Handle] = _index.Count;
            _state[p.Handle] = new KroneckerState(p, Name, names, (q, slot) => SlotShape(q, slot, OptionsFor(q)), everySlot: true);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Every group's options, every gradient (shape, finiteness) and every factor's shape are checked before anything changes.</remarks>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null) using (enable_grad()) loss = closure();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var work = StepChecks.Work<PsgdKronOptions>(Name, _parameter_groups, (o, where) => o.Validate(Name, where), (p, options) =>
        {
            var s = (KroneckerState)_state[p.Handle];
            for (int slot = 1; s.Step > 0 && slot <= Dims(p).Length; slot++)
                if (s.Tensors[slot] is { } q && !q.shape.SequenceEqual(SlotShape(p, slot, options)))
                    throw new InvalidOperationException($"{Name}: factor {slot - 1} of a parameter of shape [{string.Join(", ", p.shape)}] is " +
                        $"[{string.Join(", ", q.shape)}], but its group's maxSizeTriangular and diagonalVectors now ask for [{string.Join(", ", SlotShape(p, slot, options))}]; they cannot change after the first step.");
        });
        foreach (var (p, o) in work)
        {
            using var inner = NewDisposeScope();
            var state = (KroneckerState)_state[p.Handle];
            state.Step++;
            Update(p, _index[p.Handle], state, o);
        }
        return loss!;
    }

    void Update(Parameter p, int index, KroneckerState s, PsgdKronOptions o)
    {
        using var kept = KeptScalars.Rent();
        var type = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        double tiny = type == ScalarType.Float64 ? 2.2250738585072014e-308 : 1.1754943508222875e-38;
        var dims = Dims(p);
        int d = dims.Length;
        long t = s.Step;
        ulong seed = o.Seed!.Value;
        var g = p.grad!.detach().to(type).reshape(dims);
        if (t == 1) KroneckerOptimizer.Keep(s, 0, zeros(dims, type, p.device));
        double beta1 = o.Beta1!.Value;
        var m = s.Tensors[0]!;
        m.mul_(kept[beta1]).add_(g, alpha: kept[1 - beta1]);
        var momentum = m.div(kept[1 - Math.Pow(beta1, t)]);
        if (t == 1) Initialize(p, s, o, momentum);
        var q = Enumerable.Range(0, d).Select(i => s.Tensors[1 + i]!).ToArray();

        if (t == 1 || CounterRandom.Uniform(seed, UpdateStream, t) <= o.UpdateProbability(t))
        {
            if (d > 1 && CounterRandom.Uniform(seed, BalanceStream, t) <= BalanceProbability) Balance(q);
            var v = CounterRandomTensors.Normal(seed, FirstProbeStream + (ulong)index, dims, p.device, (t - 1) * p.NumberOfElements).to(type);
            var h = momentum.add(v.mul(momentum.abs().mean().mul(kept[Damping])), ScalarCalls.One);
            Fit(q, v, h, o.PreconditionerLearningRate!.Value, tiny);
        }

        var u = momentum;
        for (int i = 0; i < d; i++) u = q[i].dim() == 2 ? Along(u, i, q[i].t().matmul(q[i])) : Along(u, i, q[i].mul(q[i]));
        if (o.UpdateClip!.Value > 0)
        {
            var rms = u.mul(u).mean().sqrt();
            u = u.mul(rms.add(kept[1e-12], ScalarCalls.One).reciprocal().mul(kept[o.UpdateClip.Value]).clamp_max(kept[1.0]));
        }
        double lr = o.LearningRate!.Value;
        if (o.WeightDecay!.Value > 0) p.mul_(kept[1 - lr * o.WeightDecay.Value]);
        p.add_(u.reshape(p.shape).to(p.dtype), alpha: kept[-lr]);
    }

    /// <summary>Factors <c>s^(1/d)·I</c> (or ones), s fixed or the author's whitening guess from the first momentum.</summary>
    static void Initialize(Parameter p, KroneckerState s, PsgdKronOptions o, Tensor momentum)
    {
        using var kept = KeptScalars.Rent();
        var dims = Dims(p);
        Tensor scale;
        if (o.InitScale!.Value > 0) scale = full(Array.Empty<long>(), kept[o.InitScale.Value], momentum.dtype, momentum.device);
        else
        {
            var square = momentum.mul(momentum);
            var guess = square.mul(square).mean().pow(kept[-0.125]);
            scale = where(guess.isfinite(), guess, ones_like(guess));
        }
        var perFactor = scale.pow(kept[1.0 / dims.Length]);
        for (int i = 0; i < dims.Length; i++)
        {
            var start = Triangular(p, i, o) ? eye(dims[i], dtype: momentum.dtype, device: momentum.device) : ones(dims[i], momentum.dtype, momentum.device);
            KroneckerOptimizer.Keep(s, 1 + i, start.mul(perFactor));
        }
    }

    /// <summary>
    /// X with <paramref name="factor"/> applied along dimension <paramref name="i"/>: a matrix F as <c>Σ_b F[a, b] X[…, b, …]</c>,
    /// a vector as a product with each slice.
    /// </summary>
    static Tensor Along(Tensor x, int i, Tensor factor)
    {
        if (factor.dim() == 1)
        {
            var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
            shape[i] = -1;
            return x.mul(factor.reshape(shape));
        }
        var front = x.transpose(0, i);
        var frontShape = front.shape;
        return factor.matmul(front.reshape(frontShape[0], -1)).reshape(frontShape).transpose(0, i);
    }

    /// <summary><c>Q⁻ᵀ</c> of a factor along dimension <paramref name="i"/>: a triangular solve, or a division.</summary>
    static Tensor SolveAlong(Tensor x, int i, Tensor factor)
    {
        if (factor.dim() == 1) return Along(x, i, factor.reciprocal());
        var front = x.transpose(0, i);
        var frontShape = front.shape;
        // Qᵀ is lower-triangular: solve Qᵀ Y = X.
        return linalg.solve_triangular(factor.t(), front.reshape(frontShape[0], -1), upper: false).reshape(frontShape).transpose(0, i);
    }

    /// <summary>The unfolding along dimension <paramref name="i"/>: n_i rows, the other dimensions as columns.</summary>
    static Tensor Unfold(Tensor x, int i) => x.transpose(0, i).reshape(x.shape[i], -1);

    /// <summary>One step of every factor on the pair (V, h), from A = Q h and B = Q⁻ᵀ V of the factors before the step.</summary>
    static void Fit(Tensor[] q, Tensor v, Tensor h, double step, double tiny)
    {
        using var kept = KeptScalars.Rent();
        Tensor a = h, b = v;
        for (int i = 0; i < q.Length; i++)
        {
            a = Along(a, i, q[i]);
            b = SolveAlong(b, i, q[i]);
        }
        for (int i = 0; i < q.Length; i++)
        {
            Tensor ua = Unfold(a, i), ub = Unfold(b, i);
            if (q[i].dim() == 2)
            {
                Tensor aa = ua.matmul(ua.t()), bb = ub.matmul(ub.t());
                var rate = LowerBound(aa.Plus(bb), tiny).clamp_min(kept[tiny]).reciprocal().mul(kept[step]);
                q[i].sub_(aa.sub(bb).triu().matmul(q[i]).mul(rate));
            }
            else
            {
                Tensor aa = ua.mul(ua).sum(1), bb = ub.mul(ub).sum(1);
                var rate = aa.Plus(bb).max().clamp_min(kept[tiny]).reciprocal().mul(kept[step]);
                q[i].sub_(aa.sub(bb).mul(q[i]).mul(rate));
            }
        }
    }

    /// <summary>
    /// The author's cheap lower bound on the spectral norm of a symmetric matrix S: with c the column of S of largest
    /// norm, <c>‖S (Sc/‖Sc‖)‖</c> (within a factor √2 of the norm in practice); S is scaled by its largest entry first.
    /// </summary>
    internal static Tensor LowerBound(Tensor symmetric, double tiny)
    {
        using var kept = KeptScalars.Rent();
        var scale = symmetric.abs().max().clamp_min(kept[tiny]);
        var s = symmetric.div(scale);
        var column = s.index_select(1, s.mul(s).sum(new long[] { 0 }).argmax().reshape(1)).reshape(-1);
        var x = s.matmul(column);
        x = x.div(x.norm().clamp_min(kept[tiny]));
        return s.matmul(x).norm().mul(scale);
    }

    /// <summary>Scales the factors to a common largest entry, their geometric mean; the product is unchanged.</summary>
    static void Balance(Tensor[] q)
    {
        var norms = stack(q.Select(f => f.abs().max()));
        var mean = norms.log().mean().exp();
        for (int i = 0; i < q.Length; i++) q[i].mul_(mean.div(norms[i]));
    }
}
