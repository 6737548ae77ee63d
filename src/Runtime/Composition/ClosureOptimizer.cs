using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Services.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// An optimizer around an inner one whose step needs the loss or more than one gradient, and so a closure that computes
/// the loss and calls <c>backward()</c> (SAM, the Polyak step size). Parameter groups, parameters and <c>zero_grad</c>
/// are the inner optimizer's, so TorchSharp's LR schedulers drive it as usual.
/// </summary>
public abstract class ClosureOptimizer : optim.Optimizer
{
    static ClosureOptimizer() => TorchSharpNative.EnsureLoadable();

    /// <param name="inner">The optimizer that makes the update.</param>
    protected ClosureOptimizer(optim.Optimizer inner) : base(IntPtr.Zero) => Inner = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <summary>The optimizer that makes the update.</summary>
    public optim.Optimizer Inner { get; }

    /// <inheritdoc/>
    public override IEnumerable<optim.ILearningRateController> ParamGroups => Inner.ParamGroups;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => Inner.parameters();

    /// <inheritdoc/>
    public override void add_param_group(ParamGroup param_group) => Inner.add_param_group(param_group);

    /// <inheritdoc/>
    public override void zero_grad() => Inner.zero_grad();

    /// <summary>
    /// Runs <paramref name="closure"/> with gradients on (throwing, with <paramref name="why"/>, when there is none)
    /// and returns its loss with the parameters it left a gradient on.
    /// </summary>
    protected (Tensor Loss, Parameter[] WithGradient) Evaluate(Func<Tensor>? closure, string why)
    {
        if (closure is null)
            throw new ArgumentException($"{why}: give step a closure that computes the loss and calls backward().", nameof(closure));
        Tensor loss;
        using (enable_grad()) loss = closure();
        var ps = parameters().Where(p => p.grad is not null).ToArray();
        if (ps.Length == 0) throw new InvalidOperationException("The closure left no gradient: did it call backward()?");
        return (loss, ps);
    }

    /// <summary>Copies the weights kept in <paramref name="saved"/> back into <paramref name="ps"/> (exactly) and frees the copies.</summary>
    protected static void PutBack(IReadOnlyList<Parameter> ps, List<Tensor> saved)
    {
        using (no_grad())
            for (int k = 0; k < saved.Count; k++)
            {
                ps[k].copy_(saved[k]);
                saved[k].Dispose();
            }
    }
}
