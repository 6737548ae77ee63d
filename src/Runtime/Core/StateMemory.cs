using System;
using System.Linq;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Core;

/// <summary>Reads <see cref="IStateMemory.StateBytes"/> from any optimizer OptDsl builds, and bytes per parameter element.</summary>
public static class StateMemory
{
    /// <summary>The state bytes of <paramref name="optimizer"/>; a TorchSharp built-in is not measured and throws.</summary>
    public static long StateBytes(this optim.Optimizer optimizer) => optimizer switch
    {
        IStateMemory m => m.StateBytes,
        Composition.ClosureOptimizer c => c.Inner.StateBytes(),
        _ => throw new NotSupportedException($"{optimizer.GetType().Name} does not report its state's memory; OptDsl's optimizers, compositions and routes over them do."),
    };

    /// <summary>State bytes per element of the parameters the optimizer updates.</summary>
    public static double StateBytesPerElement(this optim.Optimizer optimizer)
    {
        long elements = optimizer.parameters().Sum(p => p.NumberOfElements);
        return elements == 0 ? 0 : (double)optimizer.StateBytes() / elements;
    }

    /// <summary>The bytes a tensor of <paramref name="shape"/> and <paramref name="type"/> takes.</summary>
    public static long Bytes(long[] shape, ScalarType type) => shape.Aggregate(1L, (a, b) => a * b) * ElementSize(type);

    /// <summary>The bytes of <paramref name="t"/>'s elements.</summary>
    public static long Bytes(Tensor t) => t.NumberOfElements * t.ElementSize;

    static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"No element size for {type}."),
    };
}
