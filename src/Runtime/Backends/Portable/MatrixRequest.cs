using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>A request for a Newton–Schulz orthogonalisation of <see cref="WholeTensorRequest.Input"/> as a matrix of <c>shape[0]</c> rows.</summary>
public sealed class MatrixRequest(Tensor input, Tensor like, double steps, double a, double b, double c, double schedule = Coefficients.Constant) : WholeTensorRequest(input, like)
{
    /// <summary>Newton–Schulz iterations.</summary>
    public double Steps { get; } = steps;

    /// <summary>The quintic's coefficient of X.</summary>
    public double A { get; } = a;

    /// <summary>The quintic's coefficient of XXᵀX.</summary>
    public double B { get; } = b;

    /// <summary>The quintic's coefficient of (XXᵀ)²X.</summary>
    public double C { get; } = c;

    /// <summary>Which coefficients each iteration takes (<see cref="Coefficients"/>): A, B, C at every one, or Polar Express's.</summary>
    public double Schedule { get; } = schedule;

    /// <summary>What requests answered together share: the type, the device and the iteration (shapes may differ).</summary>
    internal (ScalarType, DeviceType, int, double, double, double, double, double) Iteration =>
        (Input.dtype, Input.device_type, Input.device_index, Steps, A, B, C, Schedule);
}
