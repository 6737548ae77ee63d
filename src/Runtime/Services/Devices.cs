using static TorchSharp.torch;

namespace OptDsl.Runtime.Services;

/// <summary>Device comparison by value (TorchSharp's <see cref="Device"/> compares by reference).</summary>
static class Devices
{
    public static bool Same(Device a, Device b) => a.type == b.type && a.index == b.index;

    public static bool SameDevice(this Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
}
