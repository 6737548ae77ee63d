using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Quantized;

/// <summary>
/// A tensor held in 8 bits a value: blocks of <see cref="BlockQuantizer.BlockSize"/> consecutive elements, each scaled by
/// its largest magnitude (absmax, float32) onto [−1, 1] and rounded to the nearest value of a fixed 256-entry map.
/// </summary>
/// <param name="Codes">One byte per element, flattened.</param>
/// <param name="Absmax">One float32 per block: its largest magnitude, negated where the block uses the signed map (it
/// holds a negative value), NaN where it held NaN or infinity.</param>
/// <param name="Shape">The original shape.</param>
public sealed record QuantizedTensor(Tensor Codes, Tensor Absmax, long[] Shape)
{
    /// <summary>Bytes held: the codes and the block scales.</summary>
    public long Bytes => Codes.NumberOfElements * Codes.ElementSize + Absmax.NumberOfElements * Absmax.ElementSize;
}
