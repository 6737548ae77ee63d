using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// The entry points of NCCL (<c>libnccl.so.2</c>) that <see cref="NcclCollectives"/> uses, bound at first use through
/// function pointers so that a machine without NCCL never loads it. The library is found through
/// <c>OPTDSL_NCCL</c> (the file or its folder), the loader's search path, or beside the libtorch of
/// <c>OPTDSL_LIBTORCH</c> as PyTorch's wheels lay it out (<c>site-packages/nvidia/nccl/lib</c>).
/// </summary>
internal sealed unsafe class NcclApi
{
    public const string LibraryVariable = "OPTDSL_NCCL";
    static readonly Lazy<(NcclApi? Api, string? Error)> Instance = new(Load);

    public delegate* unmanaged<int*, int> ncclGetVersion;
    public delegate* unmanaged<NcclUniqueId*, int> ncclGetUniqueId;
    public delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> ncclCommInitRank;
    public delegate* unmanaged<IntPtr, int> ncclCommDestroy;
    public delegate* unmanaged<IntPtr, int> ncclCommAbort;
    public delegate* unmanaged<int, byte*> ncclGetErrorString;
    public delegate* unmanaged<IntPtr, byte*> ncclGetLastError;
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> ncclAllReduce;
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, int, IntPtr, IntPtr, int> ncclReduce;
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> ncclBroadcast;
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> ncclReduceScatter;
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int> ncclAllGather;
    public delegate* unmanaged<int> ncclGroupStart;
    public delegate* unmanaged<int> ncclGroupEnd;

    /// <summary>The file that was loaded, for messages.</summary>
    public string Library { get; private set; } = "";

    /// <summary>The bound API, or throws saying why it could not be bound and how to point at the library.</summary>
    public static NcclApi Get()
    {
        var (api, error) = Instance.Value;
        return api ?? throw new DllNotFoundException(error);
    }

    static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } given)
            yield return Directory.Exists(given) ? Path.Combine(given, "libnccl.so.2") : given;
        yield return "libnccl.so.2";
        if (Environment.GetEnvironmentVariable(Services.Native.TorchSharpNative.LibTorchVariable) is { Length: > 0 } torchLib)
            yield return Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia", "nccl", "lib", "libnccl.so.2"));
    }

    static (NcclApi?, string?) Load()
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (!NativeLibrary.TryLoad(candidate, out var handle)) continue;
            try
            {
                return (Bind(handle, candidate), null);
            }
            catch (EntryPointNotFoundException e)
            {
                return (null, $"{candidate} lacks an NCCL entry point ({e.Message}); NCCL 2.13 or later is needed.");
            }
        }
        return (null, $"NCCL (libnccl.so.2) could not be loaded (tried {string.Join(", ", tried)}); set {LibraryVariable} to the file or its folder — PyTorch's wheels ship it in site-packages/nvidia/nccl/lib.");
    }

    static NcclApi Bind(IntPtr lib, string name)
    {
        IntPtr F(string symbol) => NativeLibrary.GetExport(lib, symbol);
        return new NcclApi
        {
            Library = name,
            ncclGetVersion = (delegate* unmanaged<int*, int>)F("ncclGetVersion"),
            ncclGetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)F("ncclGetUniqueId"),
            ncclCommInitRank = (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)F("ncclCommInitRank"),
            ncclCommDestroy = (delegate* unmanaged<IntPtr, int>)F("ncclCommDestroy"),
            ncclCommAbort = (delegate* unmanaged<IntPtr, int>)F("ncclCommAbort"),
            ncclGetErrorString = (delegate* unmanaged<int, byte*>)F("ncclGetErrorString"),
            ncclGetLastError = (delegate* unmanaged<IntPtr, byte*>)F("ncclGetLastError"),
            ncclAllReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)F("ncclAllReduce"),
            ncclReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, int, IntPtr, IntPtr, int>)F("ncclReduce"),
            ncclBroadcast = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)F("ncclBroadcast"),
            ncclReduceScatter = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)F("ncclReduceScatter"),
            ncclAllGather = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int>)F("ncclAllGather"),
            ncclGroupStart = (delegate* unmanaged<int>)F("ncclGroupStart"),
            ncclGroupEnd = (delegate* unmanaged<int>)F("ncclGroupEnd"),
        };
    }

    /// <summary>Throws <see cref="NcclException"/> for a result other than ncclSuccess.</summary>
    public void Check(int result, string what, IntPtr comm = default)
    {
        if (result == 0) return;
        var text = Marshal.PtrToStringUTF8((IntPtr)ncclGetErrorString(result)) ?? $"error {result}";
        var detail = Marshal.PtrToStringUTF8((IntPtr)ncclGetLastError(comm));
        throw new NcclException($"NCCL {what} failed: {text}{(string.IsNullOrEmpty(detail) ? "" : $" ({detail})")}.", result);
    }

    /// <summary>NCCL's version as major.minor.patch.</summary>
    public string Version()
    {
        int v;
        Check(ncclGetVersion(&v), "ncclGetVersion");
        return v >= 10000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
