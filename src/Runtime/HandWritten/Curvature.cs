using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// Estimators of the Hessian's diagonal for curvature-aware optimizers (Sophia's <c>Refresh</c>): one tensor per
/// parameter, shaped like it. Their random draws come from <see cref="CounterRandomTensors"/>, so a (seed, draw) pair
/// gives the same estimate on every device and run.
/// </summary>
/// <remarks>
/// Give them a loss or logits whose graph has not been backpropagated yet (or was, with <c>retain_graph</c>): a freed
/// graph is an error inside libtorch that TorchSharp 0.107 does not turn into an exception — it ends the process.
/// </remarks>
public static class Curvature
{
    /// <summary>
    /// Hutchinson's estimator <c>u ⊙ (H u)</c> with Rademacher <c>u</c> (its expectation is diag H): one Hessian-vector
    /// product by double backpropagation through <paramref name="loss"/>, which must still have its graph (its gradient
    /// with respect to the parameters is taken with <c>create_graph</c>; the graph is freed afterwards).
    /// </summary>
    /// <param name="parameters">The parameters, in the order the optimizer holds them.</param>
    /// <param name="loss">A scalar loss computed from the parameters.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="draw">Which draw (say, the step): each gives independent directions.</param>
    public static IReadOnlyList<Tensor> Hutchinson(IReadOnlyList<Parameter> parameters, Tensor loss, ulong seed, ulong draw)
    {
        CheckLoss(parameters, loss, nameof(loss));
        using var grad = enable_grad();
        var inputs = parameters.Cast<Tensor>().ToList();
        var gradients = autograd.grad(new[] { loss }, inputs, retain_graph: true, create_graph: true, allow_unused: true);
        var estimates = parameters.Select(p => zeros_like(p)).ToArray();
        // A parameter the loss does not use (or uses linearly) has a zero Hessian row: its estimate stays zero.
        var curved = Enumerable.Range(0, parameters.Count).Where(i => gradients[i] is { requires_grad: true }).ToList();
        if (curved.Count == 0) return estimates;
        var directions = curved.Select(i => Rademacher(seed, Stream(draw, i), parameters[i].shape, parameters[i].device).to(parameters[i].dtype)).ToList();
        var products = autograd.grad(curved.Select(i => gradients[i]).ToList(), curved.Select(i => inputs[i]).ToList(),
            grad_outputs: directions, allow_unused: true);
        for (int k = 0; k < curved.Count; k++)
            if (products[k] is { } hu) estimates[curved[k]] = directions[k].mul(hu).detach();
        return estimates;
    }

    /// <summary>
    /// The Gauss–Newton–Bartlett estimator (Sophia's Algorithm 2) for a softmax cross-entropy model: labels are drawn
    /// from the model's own distribution, <c>ŷ ~ softmax(logits)</c> (by the Gumbel-max trick), and the estimate is
    /// <c>B · ĝ ⊙ ĝ</c> with <c>ĝ</c> the gradient of the mean cross-entropy against them over the <c>B</c> rows.
    /// </summary>
    /// <param name="parameters">The parameters, in the order the optimizer holds them.</param>
    /// <param name="logits">The model's logits, <c>[..., classes]</c>, still attached to the graph.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="draw">Which draw (say, the step).</param>
    public static IReadOnlyList<Tensor> GaussNewtonBartlett(IReadOnlyList<Parameter> parameters, Tensor logits, ulong seed, ulong draw)
    {
        using var kept = KeptScalars.Rent();
        CheckLoss(parameters, logits, nameof(logits), scalar: false);
        if (logits.dim() < 2 || logits.shape[^1] < 2)
            throw new ArgumentException($"The logits have shape [{string.Join(", ", logits.shape)}]; expected [..., classes] with at least two classes.", nameof(logits));
        using var grad = enable_grad();
        var flat = logits.reshape(-1, logits.shape[^1]);
        long rows = flat.shape[0];
        var labels = SampleLabels(flat, seed, draw);
        var loss = nn.functional.cross_entropy(flat, labels);
        var gradients = autograd.grad(new[] { loss }, parameters.Cast<Tensor>().ToList(), allow_unused: true);
        return parameters.Select((p, i) => gradients[i] is null ? zeros_like(p) : gradients[i].Squared().mul(kept[rows]).detach()).ToList();
    }

    /// <summary>One label per row of <paramref name="logits"/>, drawn from its softmax by the Gumbel-max trick.</summary>
    public static Tensor SampleLabels(Tensor logits, ulong seed, ulong draw)
    {
        using var kept = KeptScalars.Rent();
        using var noGrad = no_grad();
        var rows = logits.detach().to(ScalarType.Float32);
        // Counter uniforms lie in (0, 1]; shifting by half a step keeps -log(-log u) finite.
        var u = CounterRandomTensors.Uniform(seed, Stream(draw, 0) | (1UL << 23), rows.shape, rows.device).sub(kept[1.0 / (1 << 25)]);
        var gumbel = u.log().neg().log().neg();
        return rows.Plus(gumbel).argmax(-1);
    }

    /// <summary>±1 with equal probability, from the counter generator.</summary>
    public static Tensor Rademacher(ulong seed, ulong stream, long[] shape, Device device)
    {
        using var kept = KeptScalars.Rent();
        var u = CounterRandomTensors.Uniform(seed, stream, shape, device);
        return where(u.le(kept[0.5]), -1f, 1f);
    }

    /// <summary>The stream of parameter <paramref name="index"/> at <paramref name="draw"/>: 2²² parameters per draw.</summary>
    internal static ulong Stream(ulong draw, int index)
    {
        if (index >= 1 << 22) throw new ArgumentException("More than 4,194,304 parameters.");
        if (draw >= 1UL << 40) throw new ArgumentOutOfRangeException(nameof(draw), draw, "The draw must be below 2^40.");
        return (draw << 24) | (uint)index;
    }

    static void CheckLoss(IReadOnlyList<Parameter> parameters, Tensor loss, string name, bool scalar = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(loss);
        if (parameters.Count == 0) throw new ArgumentException("No parameters.", nameof(parameters));
        if (scalar && loss.NumberOfElements != 1)
            throw new ArgumentException($"The loss has {loss.NumberOfElements} elements; it must be a scalar.", name);
        if (!loss.requires_grad)
            throw new ArgumentException($"The {name} do not require grad: compute them from the parameters with gradients on (not under no_grad).", name);
    }
}
