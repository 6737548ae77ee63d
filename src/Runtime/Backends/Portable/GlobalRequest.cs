using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// A request for a reduction over every tensor that makes the same request in the same round — of the whole step, or,
/// with a <paramref name="scope"/> (the parameter group's options object), of that group only.
/// </summary>
public sealed class GlobalRequest(GlobalReduction reduction, Tensor input, Tensor like, object? scope = null) : WholeTensorRequest(input, like)
{
    /// <summary>The reduction.</summary>
    public GlobalReduction Reduction { get; } = reduction;

    /// <summary>What the reduction spans: null for every tensor of the step, else the group it is limited to.</summary>
    public object? Scope { get; } = scope;

    /// <summary>This tensor's part: its sum, its sum of squares, or its largest magnitude (0 when empty), in at least float32.</summary>
    internal Tensor Part()
    {
        var x = Precision.InComputeType(Full);
        return Reduction switch
        {
            GlobalReduction.Sum => x.sum(),
            GlobalReduction.Norm => x.Squared().sum(),
            _ => x.NumberOfElements == 0 ? torch.zeros(1, x.dtype, x.device).squeeze() : x.abs().max(),
        };
    }
}
