using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// Collectives over NCCL on TorchSharp CUDA tensors, one process per GPU. Rank 0 makes NCCL's unique id and writes it to
/// the rendezvous file (atomically: a temporary file renamed into place); the other ranks wait for the file, then all
/// join the communicator. Operations are enqueued on the default stream, which TorchSharp's work runs on, so they are
/// ordered with the kernels before and after them without a host synchronisation.
/// <see cref="Launcher"/> starts the processes and gives each its rank, the world size and a fresh rendezvous file.
/// </summary>
public sealed unsafe class NcclCollectives : CollectivesBase
{
    readonly NcclApi _api;
    IntPtr _comm;
    readonly int _device;

    NcclCollectives(NcclApi api, IntPtr comm, int rank, int worldSize, int device) =>
        (_api, _comm, Rank, WorldSize, _device) = (api, comm, rank, worldSize, device);

    /// <inheritdoc/>
    public override int Rank { get; }
    /// <inheritdoc/>
    public override int WorldSize { get; }

    /// <summary>The CUDA device (index among the visible ones) this rank's tensors live on.</summary>
    public Device Device => new(DeviceType.CUDA, _device);

    /// <summary>The NCCL library loaded and its version, for logs.</summary>
    public string Describe() => $"NCCL {_api.Version()} ({_api.Library})";

    /// <summary>
    /// Joins the group of <paramref name="worldSize"/> ranks as <paramref name="rank"/>, meeting the others through
    /// <paramref name="rendezvousFile"/> (which must not exist before rank 0 writes it: use a fresh name per run), on CUDA
    /// device <paramref name="device"/> (default: the only visible one, else the rank).
    /// </summary>
    public static NcclCollectives Create(int rank, int worldSize, string rendezvousFile, int? device = null, TimeSpan? timeout = null)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "A group has at least one rank.");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be 0 to {worldSize - 1}.");
        ArgumentException.ThrowIfNullOrEmpty(rendezvousFile);
        if (!torch.cuda.is_available()) throw new InvalidOperationException("NCCL collectives need a CUDA device; none is available.");
        int index = device ?? (torch.cuda.device_count() == 1 ? 0 : rank);
        if (index < 0 || index >= torch.cuda.device_count())
            throw new ArgumentOutOfRangeException(nameof(device), index, $"{torch.cuda.device_count()} CUDA devices are visible.");
        var api = NcclApi.Get();
        MakeCurrent(index);
        NcclUniqueId id;
        if (rank == 0)
        {
            api.Check(api.ncclGetUniqueId(&id), "ncclGetUniqueId");
            var temp = $"{rendezvousFile}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temp, new ReadOnlySpan<byte>(id.Bytes, 128).ToArray());
            File.Move(temp, rendezvousFile, overwrite: false);
        }
        else id = WaitForId(rendezvousFile, timeout ?? TimeSpan.FromMinutes(2));
        IntPtr comm;
        api.Check(api.ncclCommInitRank(&comm, worldSize, id, rank), "ncclCommInitRank");
        return new NcclCollectives(api, comm, rank, worldSize, index);
    }

    /// <summary>
    /// Joins the group that <see cref="Launcher"/> started this process in, from <c>OPTDSL_RANK</c>,
    /// <c>OPTDSL_WORLD_SIZE</c> and <c>OPTDSL_RENDEZVOUS</c>.
    /// </summary>
    public static NcclCollectives FromEnvironment()
    {
        var (rank, worldSize, rendezvous) = Launcher.Placement() ?? throw new InvalidOperationException(
            $"This process was not started by OptDsl's launcher: {Launcher.RankVariable}, {Launcher.WorldSizeVariable} and {Launcher.RendezvousVariable} are not set.");
        return Create(rank, worldSize, rendezvous);
    }

    static NcclUniqueId WaitForId(string path, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (File.Exists(path))
            {
                var bytes = File.ReadAllBytes(path);
                if (bytes.Length != 128) throw new InvalidDataException($"The rendezvous file {path} holds {bytes.Length} bytes, not an NCCL id of 128.");
                NcclUniqueId id;
                bytes.CopyTo(new Span<byte>(id.Bytes, 128));
                return id;
            }
            if (watch.Elapsed > timeout) throw new TimeoutException($"Rank 0 did not write the rendezvous file {path} within {timeout.TotalSeconds:F0} s.");
            Thread.Sleep(20);
        }
    }

    /// <summary>Makes CUDA device <paramref name="index"/>'s primary context current, which NCCL takes as its device.</summary>
    static void MakeCurrent(int index)
    {
        using (torch.zeros(1, device: new Device(DeviceType.CUDA, index))) { }   // TorchSharp initialises the device
        var cuda = CudaApi.TryGet(out var error) ?? throw new InvalidOperationException($"NCCL collectives: {error}.");
        int dev;
        IntPtr context;
        cuda.Check(cuda.cuDeviceGet(&dev, index), "cuDeviceGet");
        cuda.Check(cuda.cuDevicePrimaryCtxRetain(&context, dev), "cuDevicePrimaryCtxRetain");
        cuda.Check(cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <inheritdoc/>
    protected override void Check(Tensor tensor, string name)
    {
        base.Check(tensor, name);
        if (_comm == IntPtr.Zero) throw new ObjectDisposedException(nameof(NcclCollectives));
        if (tensor.device_type != DeviceType.CUDA || tensor.device_index != _device)
            throw new ArgumentException($"This rank's collectives run on cuda:{_device}; the tensor is on {tensor.device}.", name);
        DataType(tensor.dtype);
    }

    static int DataType(ScalarType type) => type switch
    {
        ScalarType.Int8 => 0,
        ScalarType.Byte => 1,
        ScalarType.Int32 => 2,
        ScalarType.Int64 => 4,
        ScalarType.Float16 => 6,
        ScalarType.Float32 => 7,
        ScalarType.Float64 => 8,
        ScalarType.BFloat16 => 9,
        _ => throw new NotSupportedException($"NCCL has no {type} type."),
    };

    static int Op(ReduceOp op) => op switch
    {
        ReduceOp.Sum => 0,
        ReduceOp.Max => 2,
        ReduceOp.Average => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    static IntPtr Data(Tensor t) => TensorAddress.Of(t);

    /// <inheritdoc/>
    protected override void RunAllReduce(Tensor tensor, ReduceOp op) =>
        _api.Check(_api.ncclAllReduce(Data(tensor), Data(tensor), (nuint)tensor.NumberOfElements, DataType(tensor.dtype), Op(op), _comm, IntPtr.Zero), "ncclAllReduce", _comm);

    /// <inheritdoc/>
    protected override void RunReduce(Tensor tensor, int root, ReduceOp op) =>
        _api.Check(_api.ncclReduce(Data(tensor), Data(tensor), (nuint)tensor.NumberOfElements, DataType(tensor.dtype), Op(op), root, _comm, IntPtr.Zero), "ncclReduce", _comm);

    /// <inheritdoc/>
    protected override void RunBroadcast(Tensor tensor, int root) =>
        _api.Check(_api.ncclBroadcast(Data(tensor), Data(tensor), (nuint)tensor.NumberOfElements, DataType(tensor.dtype), root, _comm, IntPtr.Zero), "ncclBroadcast", _comm);

    /// <inheritdoc/>
    protected override void RunReduceScatter(Tensor input, Tensor output, ReduceOp op) =>
        _api.Check(_api.ncclReduceScatter(Data(input), Data(output), (nuint)output.NumberOfElements, DataType(input.dtype), Op(op), _comm, IntPtr.Zero), "ncclReduceScatter", _comm);

    /// <inheritdoc/>
    protected override void RunAllGather(Tensor input, Tensor output) =>
        _api.Check(_api.ncclAllGather(Data(input), Data(output), (nuint)input.NumberOfElements, DataType(input.dtype), _comm, IntPtr.Zero), "ncclAllGather", _comm);

    /// <inheritdoc/>
    public override void Group(Action operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        _api.Check(_api.ncclGroupStart(), "ncclGroupStart");
        try
        {
            operations();
        }
        finally
        {
            _api.Check(_api.ncclGroupEnd(), "ncclGroupEnd", _comm);
        }
    }

    /// <summary>Destroys the communicator (every rank must, after its last collective).</summary>
    public override void Dispose()
    {
        if (_comm == IntPtr.Zero) return;
        var comm = _comm;
        _comm = IntPtr.Zero;
        _api.Check(_api.ncclCommDestroy(comm), "ncclCommDestroy");
    }
}
