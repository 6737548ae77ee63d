using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The declaration's update of the step's parameter <paramref name="index"/> as TorchSharp operations, on
/// <paramref name="p"/> with gradient <paramref name="g"/> (float32 copies for a half-precision parameter); the core binds
/// the parameter's options and state.
/// </summary>
internal delegate void PortableUpdate(int index, Tensor p, Tensor g);
