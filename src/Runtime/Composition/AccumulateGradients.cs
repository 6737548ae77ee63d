using System;
using OptDsl.Runtime.Backends.Portable;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// Gradient accumulation: an update every <see cref="MicroSteps"/> calls of <c>step()</c>. In between, <c>step()</c> only
/// counts and <c>zero_grad()</c> does nothing, so <c>backward()</c> sums the micro-batches' gradients; at the last
/// micro-step the sum is divided by <see cref="MicroSteps"/> (when <see cref="Average"/>), which makes it the gradient of
/// the mean loss over all micro-batches. Must be the first stage.
/// </summary>
public sealed class AccumulateGradients : OptimizerStage
{
    /// <summary>Accumulates over <paramref name="microSteps"/> micro-steps, averaging unless <paramref name="average"/> is false.</summary>
    public AccumulateGradients(int microSteps, bool average = true)
    {
        if (microSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(microSteps), microSteps, "AccumulateGradients needs at least 1 micro-step per update.");
        MicroSteps = microSteps;
        Average = average;
    }

    /// <summary>Micro-steps per update.</summary>
    public int MicroSteps { get; }

    /// <summary>Whether the summed gradient is divided by <see cref="MicroSteps"/>.</summary>
    public bool Average { get; }

    /// <summary>Micro-steps taken in the current window (0 right after an update).</summary>
    public int Pending { get; private set; }

    internal bool IsMidWindow => Pending != 0;

    /// <summary>Counts a micro-step; true when it is the window's last, so the update goes ahead.</summary>
    internal bool CompletesWindow()
    {
        if (Pending + 1 < MicroSteps)
        {
            Pending++;
            return false;
        }
        return true;
    }

    internal void EndWindow() => Pending = 0;

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        using var kept = KeptScalars.Rent();
        if (!Average || MicroSteps == 1) return;
        foreach (var p in context.Parameters)
        {
            using var g = p.grad;
            g?.div_(kept[MicroSteps]);
        }
    }
}
