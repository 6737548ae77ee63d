using System;
using System.Collections.Concurrent;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using OptDsl.Runtime.Services;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// Compiles a kernel's CUDA C with NVRTC for a device's compute capability, once per process (and keeps the binary
/// in <c>~/.cache/optdsl/kernels</c>, or <c>$OPTDSL_KERNEL_CACHE</c>, so later processes skip NVRTC), and makes the
/// device's primary context current on the calling thread.
/// </summary>
internal static unsafe class CudaModules
{
    sealed record Compiled(IntPtr Function, IntPtr Context, string Arch, double CompileMilliseconds, bool FromDiskCache);

    static readonly ConcurrentDictionary<(string Source, int Device), Lazy<Compiled>> Cache = new();

    /// <summary>
    /// The function <paramref name="name"/> of the kernel source on <paramref name="device"/>, with that device's context
    /// current on this thread.
    /// </summary>
    public static IntPtr Function(CudaApi api, string source, int device, out string report, string name = "optdsl_update") =>
        Function(api, source, device, out report, out _, name);

    /// <summary>
    /// As <see cref="Function(CudaApi, string, int, out string, string)"/>, and gives the device's context, which
    /// <see cref="MakeCurrent"/> makes current again later.
    /// </summary>
    public static IntPtr Function(CudaApi api, string source, int device, out string report, out IntPtr context, string name = "optdsl_update")
    {
        var compiled = Cache.GetOrAdd((source, device), key => new Lazy<Compiled>(() => Compile(api, key.Source, key.Device, name))).Value;
        MakeCurrent(api, context = compiled.Context);
        report = compiled.FromDiskCache
            ? $"loaded for {compiled.Arch} from the kernel cache"
            : $"compiled for {compiled.Arch} with NVRTC in {compiled.CompileMilliseconds:F0} ms";
        return compiled.Function;
    }

    /// <summary>Makes <paramref name="context"/> current on this thread, where it is not already.</summary>
    public static void MakeCurrent(CudaApi api, IntPtr context)
    {
        IntPtr current;
        api.Check(api.cuCtxGetCurrent(&current), "cuCtxGetCurrent");
        if (current != context) api.Check(api.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>Whether kernels on <paramref name="device"/> may take 32 KB of parameters (CUDA 12.1+, compute capability 7.0+).</summary>
    public static bool SupportsLargeParameters(CudaApi api, int device)
    {
        int driver, nvrtcMajor, nvrtcMinor, dev, major;
        if (api.cuDriverGetVersion(&driver) != 0 || driver < 12010) return false;
        if (api.nvrtcVersion(&nvrtcMajor, &nvrtcMinor) != 0 || nvrtcMajor * 100 + nvrtcMinor < 1201) return false;
        if (api.cuDeviceGet(&dev, device) != 0 || api.cuDeviceGetAttribute(&major, 75, dev) != 0) return false;
        return major >= 7;
    }

    static Compiled Compile(CudaApi api, string source, int device, string functionName)
    {
        int dev, major, minor;
        IntPtr context;
        api.Check(api.cuDeviceGet(&dev, device), "cuDeviceGet");
        api.Check(api.cuDeviceGetAttribute(&major, 75, dev), "reading the compute capability");
        api.Check(api.cuDeviceGetAttribute(&minor, 76, dev), "reading the compute capability");
        api.Check(api.cuDevicePrimaryCtxRetain(&context, dev), "cuDevicePrimaryCtxRetain");
        api.Check(api.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        var arch = $"sm_{major}{minor}";

        int nvrtcMajor, nvrtcMinor;
        api.nvrtcVersion(&nvrtcMajor, &nvrtcMinor);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{source}\n{arch}\nnvrtc {nvrtcMajor}.{nvrtcMinor}")))[..24].ToLowerInvariant();
        var cachePath = Path.Combine(CacheFolders.Root("kernels", "OPTDSL_KERNEL_CACHE"), $"{key}.cubin");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        bool fromDisk = File.Exists(cachePath);
        byte[] cubin = fromDisk ? File.ReadAllBytes(cachePath) : RunNvrtc(api, source, arch);
        if (!fromDisk) TryWrite(cachePath, cubin);

        IntPtr module, function;
        fixed (byte* image = cubin)
            api.Check(api.cuModuleLoadData(&module, image), $"loading the {arch} kernel");
        fixed (byte* name = CudaApi.Utf8(functionName))
            api.Check(api.cuModuleGetFunction(&function, module, name), $"finding {functionName}");
        return new Compiled(function, context, arch, watch.Elapsed.TotalMilliseconds, fromDisk);
    }

    static byte[] RunNvrtc(CudaApi api, string source, string arch)
    {
        IntPtr program;
        fixed (byte* text = CudaApi.Utf8(source))
        fixed (byte* name = CudaApi.Utf8("optdsl_update.cu"))
            Check(api, api.nvrtcCreateProgram(&program, text, name, 0, null, null), "nvrtcCreateProgram", IntPtr.Zero);
        try
        {
            var options = new[] { $"--gpu-architecture={arch}", "--std=c++17" };
            var handles = new GCHandle[options.Length];
            var pointers = stackalloc byte*[options.Length];
            try
            {
                for (int i = 0; i < options.Length; i++)
                {
                    handles[i] = GCHandle.Alloc(CudaApi.Utf8(options[i]), GCHandleType.Pinned);
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }
                Check(api, api.nvrtcCompileProgram(program, options.Length, pointers), "compiling the kernel", program);
            }
            finally
            {
                foreach (var h in handles) if (h.IsAllocated) h.Free();
            }
            nuint size;
            Check(api, api.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", program);
            var cubin = new byte[(int)size];
            fixed (byte* buffer = cubin) Check(api, api.nvrtcGetCUBIN(program, buffer), "nvrtcGetCUBIN", program);
            return cubin;
        }
        finally
        {
            api.nvrtcDestroyProgram(&program);
        }
    }

    static void Check(CudaApi api, int status, string what, IntPtr program)
    {
        if (status == 0) return;
        var log = "";
        if (program != IntPtr.Zero)
        {
            nuint size;
            if (api.nvrtcGetProgramLogSize(program, &size) == 0 && size > 1)
            {
                var bytes = new byte[(int)size];
                fixed (byte* b = bytes) api.nvrtcGetProgramLog(program, b);
                log = Encoding.UTF8.GetString(bytes).TrimEnd('\0');
            }
        }
        throw new InvalidOperationException($"OptDsl fused CUDA backend: {what} failed (NVRTC status {status}){(log.Length > 0 ? ":\n" + log : "")}");
    }

    static void TryWrite(string path, byte[] data)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temp, data);
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
