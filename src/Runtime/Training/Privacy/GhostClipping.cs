using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Privacy;

/// <summary>
/// Per-example gradient norms of a whole model from one batched forward and one backward to its layers' outputs, for
/// <see cref="DpSgd.Step(GhostClipping, Func{Tensor}, double?)"/>. Forward hooks on the model's Linear, Embedding,
/// LayerNorm, Conv1d and Conv2d layers record each call's input and output while a step runs; the loss's gradients with
/// respect to those outputs and <see cref="GhostNorms"/> give each example's norm without forming its gradient. Every
/// trainable parameter must belong to one of those layers (otherwise the constructor says which does not, and the
/// micro-batch <see cref="DpSgd.Step(int, Func{int, Tensor}, double?)"/> is the way). A layer called more than once in a
/// forward counts once, over all its calls. Examples must not interact in the forward (no BatchNorm across the batch).
/// </summary>
public sealed class GhostClipping : IDisposable
{
    readonly List<(nn.Module Layer, IDisposable Hook)> _hooks = new();
    readonly List<Parameter> _parameters = new();
    readonly long? _paddingIndex;
    List<(nn.Module Layer, Tensor Input, Tensor Output)>? _calls;

    /// <param name="model">The model whose trainable parameters DP-SGD steps.</param>
    /// <param name="embeddingPaddingIndex">The <c>padding_idx</c> of the model's embeddings, if they have one (TorchSharp
    /// does not expose it): positions holding it get no gradient and are left out of the norms.</param>
    public GhostClipping(nn.Module model, long? embeddingPaddingIndex = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _paddingIndex = embeddingPaddingIndex;
        var modules = new List<(string Name, nn.Module Module)> { ("", model) };
        modules.AddRange(model.named_modules().Where(m => !ReferenceEquals(m.module, model)).Select(m => (m.name, m.module)));
        var covered = new HashSet<IntPtr>();
        foreach (var (_, module) in modules)
        {
            var own = LayerParameters(module);
            if (own is null) continue;
            if (module is Convolution conv && GhostNorms.Unsupported(conv) is not null) continue;   // its parameters are reported below
            foreach (var p in own) covered.Add(TensorAddress.Of(p));
            if (module is nn.Module<Tensor, Tensor> layer)
            {
                var hook = layer.register_forward_hook(OnForward);
                _hooks.Add((module, new Unhook(hook.remove)));
            }
        }
        // Parameters are told apart by their data's address: a module's property and named_parameters() may wrap the same
        // tensor in different objects.
        foreach (var (name, p) in model.named_parameters().Where(np => np.parameter.requires_grad))
            if (covered.Contains(TensorAddress.Of(p))) _parameters.Add(p);
            else throw new NotSupportedException(
                    $"Ghost clipping covers the parameters of Linear, Embedding, LayerNorm, Conv1d and Conv2d layers; '{name}' ({Owner(modules, name)}) is not one. "
                    + "Use DpSgd.Step(batchSize, exampleLoss), which clips per example for any module, or freeze it (requires_grad = false).");
    }

    /// <summary>The trainable parameters whose per-example norms this computes.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The layer's trainable-or-not parameters when it is a kind this covers, else null.</summary>
    static Parameter[]? LayerParameters(nn.Module module) => module switch
    {
        Linear l => Present(l.weight, l.bias),
        Embedding e => new[] { e.weight! },
        LayerNorm n => Present(n.weight, n.bias),
        Convolution c => Present(c.weight, c.bias),
        _ => null,
    };

    static Parameter[] Present(params Parameter?[] ps) => ps.OfType<Parameter>().ToArray();

    static string Owner(List<(string Name, nn.Module Module)> modules, string parameter)
    {
        int dot = parameter.LastIndexOf('.');
        var owner = dot < 0 ? "" : parameter[..dot];
        var module = modules.FirstOrDefault(m => m.Name == owner).Module;
        return module is null ? "a parameter of its own" : $"in a {module.GetType().Name}";
    }

    Tensor OnForward(nn.Module<Tensor, Tensor> layer, Tensor input, Tensor output)
    {
        if (_calls is null || !output.requires_grad) return output;
        // The model goes on with a view of the output: containers such as Sequential dispose the tensors they pass along,
        // and the recorded output must outlive the forward as the target of the backward.
        _calls.Add((layer, input.detach(), output));
        return output.view_as(output);
    }

    /// <summary>
    /// Runs <paramref name="forward"/> with the hooks recording; returns its result and the recording, whose outputs are
    /// the targets of the backward that <see cref="Recording.SquaredNorms"/> needs. Disposing the recording ends it.
    /// </summary>
    internal (Tensor Result, Recording Recording) Record(Func<Tensor> forward)
    {
        if (_calls is not null) throw new InvalidOperationException("Ghost clipping is already recording a forward (a step inside a step?).");
        var recording = new Recording(this, _calls = new());
        try
        {
            return (forward(), recording);
        }
        catch
        {
            recording.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Each example's gradient norm over the covered parameters, [B] in float64, for the per-example losses [B] that
    /// <paramref name="exampleLosses"/> computes with the model's forward (one backward to the layers' outputs; the
    /// parameters' gradients are not touched).
    /// </summary>
    public Tensor PerExampleNorms(Func<Tensor> exampleLosses)
    {
        ArgumentNullException.ThrowIfNull(exampleLosses);
        using var scope = NewDisposeScope();
        Tensor losses;
        Recording recording;
        using (enable_grad()) (losses, recording) = Record(exampleLosses);
        using (recording)
        {
            if (losses.dim() != 1)
                throw new ArgumentException($"The losses have shape [{string.Join(", ", losses.shape)}]; ghost clipping needs one per example, [B] (not their mean).");
            var outputs = recording.Outputs;
            var grads = outputs.Count == 0 ? new List<Tensor>()
                : torch.autograd.grad(new[] { losses.sum() }, outputs.ToArray(), allow_unused: true).ToList();
            using (no_grad()) return recording.SquaredNorms(grads, losses.shape[0], losses.device).sqrt().MoveToOuterDisposeScope();
        }
    }

    /// <summary>The layer calls of one forward.</summary>
    internal sealed class Recording : IDisposable
    {
        readonly GhostClipping _owner;
        readonly List<(nn.Module Layer, Tensor Input, Tensor Output)> _calls;

        internal Recording(GhostClipping owner, List<(nn.Module, Tensor, Tensor)> calls) => (_owner, _calls) = (owner, calls);

        /// <summary>The recorded layers' outputs, in the order of <see cref="SquaredNorms"/>'s gradients.</summary>
        public IReadOnlyList<Tensor> Outputs => _calls.Select(c => c.Output).ToList();

        /// <summary>
        /// Each example's squared gradient norm over all covered parameters, [B], from the recorded calls and
        /// <paramref name="outputGrads"/>, the loss's gradients with respect to <see cref="Outputs"/>.
        /// </summary>
        public Tensor SquaredNorms(IReadOnlyList<Tensor> outputGrads, long batch, Device device)
        {
            if (outputGrads.Count != _calls.Count) throw new InvalidOperationException("One output gradient per recorded call is needed.");
            using var scope = NewDisposeScope();
            var total = torch.zeros(batch, dtype: ScalarType.Float64, device: device);
            // Each layer's parts, concatenated over its calls along the positions.
            foreach (var layerCalls in Enumerable.Range(0, _calls.Count).GroupBy(i => _calls[i].Layer, ReferenceEqualityComparer.Instance))
            {
                var layer = (nn.Module)layerCalls.Key!;
                var parts = layerCalls.Select(i => _owner.Parts(layer, _calls[i].Input, Grad(outputGrads[i], _calls[i].Output), batch)).ToList();
                for (int k = 0; k < parts[0].Count; k++)
                {
                    var kind = parts[0][k].Kind;
                    var a = parts.Count == 1 ? parts[0][k].A : torch.cat(parts.Select(p => p[k].A).ToArray(), 1);
                    var g = parts.Count == 1 ? parts[0][k].G : torch.cat(parts.Select(p => p[k].G).ToArray(), 1);
                    var norm = kind switch
                    {
                        Part.Outer => GhostNorms.Outer(a, g),
                        Part.Sum => GhostNorms.SumOverPositions(g),
                        Part.Tokens => GhostNorms.Embedding(a, g, _owner._paddingIndex),
                        _ => GhostNorms.Elementwise(a, g),
                    };
                    total = total.Plus(norm.to(ScalarType.Float64).to(device));
                }
            }
            return total.MoveToOuterDisposeScope();
        }

        /// <summary>Ends the recording.</summary>
        public void Dispose()
        {
            if (ReferenceEquals(_owner._calls, _calls)) _owner._calls = null;
        }
    }

    /// <summary>The gradient of an output the loss did not use is zero.</summary>
    static Tensor Grad(Tensor grad, Tensor output) => grad.IsInvalid ? torch.zeros_like(output) : grad;

    enum Part { Outer, Sum, Tokens, Elementwise }

    /// <summary>A call's contributions to the norm, each as positions [B, T, …] to concatenate with other calls'.</summary>
    List<(Part Kind, Tensor A, Tensor G)> Parts(nn.Module layer, Tensor input, Tensor grad, long batch)
    {
        if (input.dim() < 1 || input.shape[0] != batch || grad.shape[0] != batch)
            throw new InvalidOperationException(
                $"A {layer.GetType().Name} saw an input of shape [{string.Join(", ", input.shape)}]; ghost clipping needs the batch ({batch} examples, one loss each) as the first dimension of every layer's input.");
        var parts = new List<(Part, Tensor, Tensor)>();
        switch (layer)
        {
            case Linear l:
                var g = GhostNorms.Positions(Up(grad));
                if (l.weight!.requires_grad) parts.Add((Part.Outer, GhostNorms.Positions(Up(input)), g));
                if (l.bias is { requires_grad: true }) parts.Add((Part.Sum, g, g));
                break;
            case Embedding:
                var gE = Up(grad);
                parts.Add((Part.Tokens, input.reshape(batch, -1), gE.reshape(batch, -1, gE.shape[^1])));
                break;
            case LayerNorm n:
                long size = n.normalized_shape.Aggregate(1L, (a, d) => a * d);
                var x = Up(input).reshape(batch, -1, size);
                var gN = Up(grad).reshape(batch, -1, size);
                if (n.weight is { requires_grad: true })
                {
                    parts.Add((Part.Elementwise, GhostNorms.Normalized(x, n.eps), gN));
                }
                if (n.bias is { requires_grad: true }) parts.Add((Part.Sum, gN, gN));
                break;
            case Convolution c:
                var (groups, biasGrad) = GhostNorms.ConvPositions(c, Up(input), Up(grad));
                if (c.weight!.requires_grad) parts.AddRange(groups.Select(p => (Part.Outer, p.X, p.G)));
                if (biasGrad is not null && c.bias!.requires_grad) parts.Add((Part.Sum, biasGrad, biasGrad));
                break;
        }
        return parts;
    }

    /// <summary>Half-precision tensors in float32, for the Gram products.</summary>
    static Tensor Up(Tensor t) => DeclaredState.InStateType(t);

    sealed class Unhook(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    /// <summary>Removes the hooks.</summary>
    public void Dispose()
    {
        foreach (var (_, hook) in _hooks) hook.Dispose();
        _hooks.Clear();
    }
}
