using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Entropy-SGD (Chaudhari et al., 2017, "Entropy-SGD: Biasing Gradient Descent Into Wide Valleys", Algorithm 1) around
/// any optimizer: each step runs L steps of stochastic gradient Langevin dynamics from the weights x,
/// <c>x' ← x' − η'(∇f(x') − γ(x − x')) + √η' ε z</c>, keeps an average <c>μ ← (1 − α)μ + α x'</c>, puts the weights back
/// at x and hands the inner optimizer the local entropy's gradient <c>γ(x − μ)</c> (the paper's outer step is SGD with
/// Nesterov momentum: <c>inner: new SGD(ps, lr: 1, momentum: 0.9, nesterov: true)</c>). γ grows as
/// <c>γ (1 + scoping)^t</c> ("scoping"). L forward and backward passes per step: <c>step</c> calls its closure L times,
/// which may draw a new minibatch each time. The noise z comes from <see cref="CounterRandomTensors"/> under
/// <c>seed</c>, so a run is the same on every device.
/// </summary>
public sealed class EntropySgd : ClosureOptimizer
{
    /// <param name="inner">The outer optimizer, stepped with the local entropy's gradient.</param>
    /// <param name="langevinSteps">L, the inner Langevin steps (passes) per step.</param>
    /// <param name="innerLr">η', the Langevin step size.</param>
    /// <param name="gamma">γ, the coupling to the weights ("scope").</param>
    /// <param name="noise">ε, the thermal noise (0: plain inner gradient descent).</param>
    /// <param name="alpha">α, the averaging rate of μ.</param>
    /// <param name="scoping">γ's growth per step (0: constant).</param>
    /// <param name="seed">The noise's seed.</param>
    public EntropySgd(optim.Optimizer inner, int langevinSteps = 20, double innerLr = 0.1, double gamma = 0.03, double noise = 1e-4,
        double alpha = 0.75, double scoping = 0, ulong seed = 0) : base(inner)
    {
        if (langevinSteps < 1) throw new ArgumentOutOfRangeException(nameof(langevinSteps), langevinSteps, "At least one Langevin step.");
        if (!(innerLr > 0) || double.IsInfinity(innerLr)) throw new ArgumentOutOfRangeException(nameof(innerLr), innerLr, "η' must be positive and finite.");
        if (!(gamma >= 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "γ must be finite and not negative.");
        if (!(noise >= 0) || double.IsInfinity(noise)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "ε must be finite and not negative.");
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must lie in (0, 1].");
        if (!(scoping >= 0) || double.IsInfinity(scoping)) throw new ArgumentOutOfRangeException(nameof(scoping), scoping, "The scoping rate must be finite and not negative.");
        (LangevinSteps, InnerLr, Gamma, Noise, Alpha, Scoping, Seed) = (langevinSteps, innerLr, gamma, noise, alpha, scoping, seed);
    }

    /// <summary>L.</summary>
    public int LangevinSteps { get; }
    /// <summary>η'.</summary>
    public double InnerLr { get; }
    /// <summary>γ at the first step.</summary>
    public double Gamma { get; }
    /// <summary>ε.</summary>
    public double Noise { get; }
    /// <summary>α.</summary>
    public double Alpha { get; }
    /// <summary>γ's growth per step.</summary>
    public double Scoping { get; }
    /// <summary>The noise's seed.</summary>
    public ulong Seed { get; }

    /// <summary>Steps taken; the next step's γ is <c>Gamma · (1 + Scoping)^StepCount</c> and its noise streams follow from it.</summary>
    public long StepCount { get; set; }

    /// <summary>The noise stream of parameter <paramref name="index"/> at Langevin step <paramref name="inner"/> of step <paramref name="step"/>.</summary>
    internal static ulong NoiseStream(long step, int inner, int index) => ((ulong)step << 32) | ((ulong)inner << 16) | (uint)index;

    /// <summary>
    /// One step: L Langevin steps (each calls <paramref name="closure"/>, which computes the loss and calls
    /// <c>backward()</c>), then the inner optimizer's step from the weights as they were. Returns the first loss. A
    /// non-finite loss throws with the weights as they were.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        using var kept = KeptScalars.Rent();
        var ps = parameters().ToArray();
        if (ps.Length >= 1 << 16) throw new InvalidOperationException("Entropy-SGD handles at most 65,535 parameter tensors.");
        if (LangevinSteps >= 1 << 16) throw new InvalidOperationException("At most 65,535 Langevin steps.");
        double gamma = Gamma * Math.Pow(1 + Scoping, StepCount);
        var x = new Tensor[ps.Length];
        var mu = new Tensor[ps.Length];
        Tensor? first = null;
        bool done = false;
        try
        {
            using (no_grad())
                for (int k = 0; k < ps.Length; k++)
                {
                    x[k] = ps[k].detach().clone();
                    mu[k] = ps[k].detach().clone();
                }
            for (int i = 0; i < LangevinSteps; i++)
            {
                Inner.zero_grad();
                var (loss, _) = Evaluate(closure, "Entropy-SGD takes L gradients per step");
                double value = loss.to(ScalarType.Float64).item<double>();
                if (!double.IsFinite(value))
                    throw new InvalidOperationException($"Entropy-SGD: Langevin step {i} has loss {value}; the weights were put back as they were.");
                if (first is null) first = loss.detach().clone();
                using var _ = no_grad();
                using var scope = NewDisposeScope();
                for (int k = 0; k < ps.Length; k++)
                {
                    var p = ps[k];
                    // dx' = ∇f(x') − γ (x − x'); a parameter the loss does not reach still feels the coupling.
                    var drift = x[k].sub(p).mul(kept[-gamma]);
                    if (p.grad is { } g) drift = drift.Plus(g);
                    p.sub_(drift.mul(kept[InnerLr]));
                    if (Noise > 0)
                    {
                        var z = CounterRandomTensors.Normal(Seed, NoiseStream(StepCount, i, k), p.shape, p.device).to(p.dtype);
                        p.add_(z, alpha: kept[Math.Sqrt(InnerLr) * Noise]);
                    }
                    mu[k].mul_(kept[1 - Alpha]).add_(p, alpha: kept[Alpha]);
                }
            }
            using (no_grad())
                for (int k = 0; k < ps.Length; k++)
                {
                    ps[k].copy_(x[k]);
                    // The local entropy's gradient, γ (x − μ), for the outer optimizer.
                    ps[k].grad = x[k].sub(mu[k]).mul(kept[gamma]);
                }
            done = true;
        }
        finally
        {
            if (!done)
                using (no_grad())
                    for (int k = 0; k < ps.Length; k++)
                        if (x[k] is not null) ps[k].copy_(x[k]);
            foreach (var t in x.Concat(mu)) t?.Dispose();
        }
        Inner.step();
        StepCount++;
        return first!;
    }
}
