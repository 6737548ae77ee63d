using System;
using System.Runtime.InteropServices;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// Makes the pages of a new, large tensor resident before a checkpoint's bytes are read into it. Left alone, the read
/// faults them in one 4 KiB page at a time, and on a virtual machine those faults, not the file, bound a load. On
/// Linux one <c>madvise</c> asks for transparent huge pages over the aligned middle of the range (where the system
/// grants them on request, as Debian's default does) and another faults every page in with one call
/// (<c>MADV_POPULATE_WRITE</c>, Linux 5.14). Both are hints: where either is refused the read faults the pages in as
/// before, and nothing else changes.
/// </summary>
internal static partial class FreshMemory
{
    /// <summary>Below this a tensor's faults cost too little to matter.</summary>
    public const long Threshold = 4L << 20;

    const int MadvHugePage = 14, MadvPopulateWrite = 23;
    const long PageBytes = 4096, HugePageBytes = 2L << 20;

    /// <summary>Prepares <paramref name="bytes"/> bytes at <paramref name="address"/>, memory this process has just allocated.</summary>
    public static void Prepare(IntPtr address, long bytes)
    {
        if (!OperatingSystem.IsLinux() || bytes < Threshold) return;
        long start = (long)address, end = start + bytes;
        long hugeStart = AlignUp(start, HugePageBytes), hugeEnd = end & ~(HugePageBytes - 1);
        if (hugeEnd > hugeStart) Advise(hugeStart, hugeEnd, MadvHugePage);
        Advise(AlignUp(start, PageBytes), end & ~(PageBytes - 1), MadvPopulateWrite);
    }

    static long AlignUp(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);

    static void Advise(long start, long end, int advice)
    {
        try
        {
            if (end > start) madvise((IntPtr)start, (nuint)(end - start), advice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No C library to ask: the read faults the pages in.
        }
    }

    [LibraryImport("libc")]
    private static partial int madvise(IntPtr address, nuint length, int advice);
}
