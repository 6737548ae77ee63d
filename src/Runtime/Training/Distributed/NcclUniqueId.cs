using System.Runtime.InteropServices;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>NCCL's unique id: 128 opaque bytes that rank 0 makes and every rank needs to join the communicator.</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal unsafe struct NcclUniqueId
{
    public fixed byte Bytes[128];
}
