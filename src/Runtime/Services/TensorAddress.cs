using System;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Services;

/// <summary>
/// A tensor's data address (storage offset included), read through TorchSharp's native <c>THSTensor_data</c> with one
/// call and no allocation: what the fused kernel is given, and what tells the optimizer that a parameter's gradient is
/// still the tensor it checked at the last step.
/// </summary>
internal static unsafe class TensorAddress
{
    static readonly delegate* unmanaged<IntPtr, IntPtr> Data = Bind();

    static delegate* unmanaged<IntPtr, IntPtr> Bind()
    {
        if (!NativeLibrary.TryLoad("libLibTorchSharp.so", out var library) && !NativeLibrary.TryLoad("LibTorchSharp", out library))
            throw new DllNotFoundException("OptDsl: TorchSharp's native library is not loaded.");
        return (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "THSTensor_data");
    }

    public static IntPtr Of(Tensor tensor) => Data(tensor.Handle);
}
