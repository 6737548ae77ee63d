using System;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

/// <summary>The closure protocol of <c>step(closure)</c>, shared by the optimizers that take one.</summary>
static class Closures
{
    /// <summary>Evaluates <paramref name="closure"/> (if any) with gradients on, then runs <paramref name="step"/> without; returns the closure's loss.</summary>
    public static Tensor StepWith(Func<Tensor>? closure, Action step)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using var _ = torch.enable_grad();
            loss = closure();
        }
        using (torch.no_grad()) step();
        return loss!;
    }
}
