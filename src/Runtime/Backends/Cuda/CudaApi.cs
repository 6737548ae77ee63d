using System;
using System.Runtime.InteropServices;
using System.Text;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The few entry points of the CUDA driver (<c>libcuda.so.1</c>) and NVRTC (<c>libnvrtc.so.*</c>) the fused backend
/// needs, bound at first use through function pointers so that a machine without CUDA never loads them.
/// </summary>
internal sealed unsafe class CudaApi
{
    static readonly string[] DriverNames = { "libcuda.so.1", "libcuda.so", "nvcuda.dll" };
    static readonly string[] NvrtcNames =
    {
        "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so", "nvrtc64_130_0.dll", "nvrtc64_120_0.dll",
    };

    static readonly Lazy<(CudaApi? Api, string? Error)> Instance = new(Load);

    /// <summary>The bound API, or null with the reason it could not be bound.</summary>
    public static CudaApi? TryGet(out string? error)
    {
        var (api, e) = Instance.Value;
        error = e;
        return api;
    }

    public delegate* unmanaged<uint, int> cuInit;
    public delegate* unmanaged<int*, int, int> cuDeviceGet;
    public delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public delegate* unmanaged<IntPtr*, int> cuCtxGetCurrent;
    public delegate* unmanaged<IntPtr, int> cuCtxSetCurrent;
    public delegate* unmanaged<IntPtr*, int, int> cuDevicePrimaryCtxRetain;
    public delegate* unmanaged<IntPtr*, void*, int> cuModuleLoadData;
    public delegate* unmanaged<IntPtr*, IntPtr, byte*, int> cuModuleGetFunction;
    public delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> cuLaunchKernel;
    public delegate* unmanaged<int, byte**, int> cuGetErrorString;
    public delegate* unmanaged<int*, int> cuDriverGetVersion;

    public delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
    public delegate* unmanaged<IntPtr, int, byte**, int> nvrtcCompileProgram;
    public delegate* unmanaged<IntPtr, nuint*, int> nvrtcGetProgramLogSize;
    public delegate* unmanaged<IntPtr, byte*, int> nvrtcGetProgramLog;
    public delegate* unmanaged<IntPtr, nuint*, int> nvrtcGetCUBINSize;
    public delegate* unmanaged<IntPtr, byte*, int> nvrtcGetCUBIN;
    public delegate* unmanaged<IntPtr*, int> nvrtcDestroyProgram;
    public delegate* unmanaged<int*, int*, int> nvrtcVersion;

    /// <summary>Which NVRTC library was bound, for messages.</summary>
    public string NvrtcLibrary { get; private set; } = "";

    static (CudaApi?, string?) Load()
    {
        if (!TryLoadAny(DriverNames, out var driver, out _))
            return (null, "the CUDA driver library (libcuda.so.1) could not be loaded");
        if (!TryLoadAny(NvrtcNames, out var nvrtc, out var nvrtcName))
            return (null, "NVRTC (libnvrtc.so.13/.12/.11.2) could not be loaded; put the CUDA toolkit's or PyTorch's nvidia/cu*/lib folder on LD_LIBRARY_PATH");
        try
        {
            var api = new CudaApi { NvrtcLibrary = nvrtcName! };
            api.cuInit = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(driver, "cuInit");
            api.cuDeviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(driver, "cuDeviceGet");
            api.cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(driver, "cuDeviceGetAttribute");
            api.cuCtxGetCurrent = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(driver, "cuCtxGetCurrent");
            api.cuCtxSetCurrent = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(driver, "cuCtxSetCurrent");
            api.cuDevicePrimaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)NativeLibrary.GetExport(driver, "cuDevicePrimaryCtxRetain");
            api.cuModuleLoadData = (delegate* unmanaged<IntPtr*, void*, int>)NativeLibrary.GetExport(driver, "cuModuleLoadData");
            api.cuModuleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)NativeLibrary.GetExport(driver, "cuModuleGetFunction");
            api.cuLaunchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)NativeLibrary.GetExport(driver, "cuLaunchKernel");
            api.cuGetErrorString = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(driver, "cuGetErrorString");
            api.cuDriverGetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(driver, "cuDriverGetVersion");
            api.nvrtcCreateProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(nvrtc, "nvrtcCreateProgram");
            api.nvrtcCompileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)NativeLibrary.GetExport(nvrtc, "nvrtcCompileProgram");
            api.nvrtcGetProgramLogSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcGetProgramLogSize");
            api.nvrtcGetProgramLog = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcGetProgramLog");
            api.nvrtcGetCUBINSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcGetCUBINSize");
            api.nvrtcGetCUBIN = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcGetCUBIN");
            api.nvrtcDestroyProgram = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcDestroyProgram");
            api.nvrtcVersion = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(nvrtc, "nvrtcVersion");
            int status = api.cuInit(0);
            if (status != 0) return (null, $"cuInit failed: {api.ErrorString(status)}");
            return (api, null);
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"the CUDA driver or NVRTC lacks an entry point: {e.Message}");
        }
    }

    static bool TryLoadAny(string[] names, out IntPtr handle, out string? loaded)
    {
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out handle))
            {
                loaded = name;
                return true;
            }
        }
        handle = IntPtr.Zero;
        loaded = null;
        return false;
    }

    public string ErrorString(int status)
    {
        byte* text = null;
        if (cuGetErrorString is not null && cuGetErrorString(status, &text) == 0 && text is not null)
            return $"{Marshal.PtrToStringUTF8((IntPtr)text)} ({status})";
        return $"CUDA error {status}";
    }

    /// <summary>Throws with the driver's message when <paramref name="status"/> is not success.</summary>
    public void Check(int status, string what)
    {
        if (status != 0) throw new InvalidOperationException($"OptDsl fused CUDA backend: {what} failed: {ErrorString(status)}");
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");
}
