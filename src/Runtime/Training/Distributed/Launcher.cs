using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>
/// Starts one process per GPU: copies of the running program with the same arguments, rank r seeing only the r-th
/// visible GPU (<c>CUDA_VISIBLE_DEVICES</c>), told its place by <c>OPTDSL_RANK</c>, <c>OPTDSL_WORLD_SIZE</c> and
/// <c>OPTDSL_RENDEZVOUS</c> (a fresh file name, for <see cref="NcclCollectives.FromEnvironment"/>). A program calls
/// <see cref="Run"/> when <see cref="Placement"/> is null (it is the launcher) and does its work otherwise.
/// </summary>
public static class Launcher
{
    /// <summary>The variable that holds this process's rank.</summary>
    public const string RankVariable = "OPTDSL_RANK";
    /// <summary>The variable that holds the number of ranks.</summary>
    public const string WorldSizeVariable = "OPTDSL_WORLD_SIZE";
    /// <summary>The variable that names the rendezvous file.</summary>
    public const string RendezvousVariable = "OPTDSL_RENDEZVOUS";

    /// <summary>This process's rank, the world size and the rendezvous file, when a launcher started it; else null.</summary>
    public static (int Rank, int WorldSize, string Rendezvous)? Placement()
    {
        var rank = Environment.GetEnvironmentVariable(RankVariable);
        var world = Environment.GetEnvironmentVariable(WorldSizeVariable);
        var rendezvous = Environment.GetEnvironmentVariable(RendezvousVariable);
        if (rank is null && world is null) return null;
        if (!int.TryParse(rank, out int r) || !int.TryParse(world, out int w) || w < 1 || r < 0 || r >= w || string.IsNullOrEmpty(rendezvous))
            throw new InvalidOperationException($"{RankVariable}={rank}, {WorldSizeVariable}={world}, {RendezvousVariable}={rendezvous}: not a placement a launcher gives.");
        return (r, w, rendezvous);
    }

    /// <summary>
    /// Runs <paramref name="worldSize"/> copies of this program (with <paramref name="arguments"/>, by default its own)
    /// and waits for them; their output comes through, each line marked with its rank. If one fails, the others are
    /// stopped. Returns 0 when all succeeded, else the first failure's exit code.
    /// </summary>
    public static int Run(int worldSize, IReadOnlyList<string>? arguments = null)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "At least one process.");
        var (exe, lead) = Self();
        arguments ??= Environment.GetCommandLineArgs().Skip(1).ToArray();
        var visible = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { Length: > 0 } v
            ? v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : Enumerable.Range(0, worldSize).Select(i => i.ToString()).ToArray();
        if (visible.Length < worldSize) throw new InvalidOperationException($"{worldSize} processes need {worldSize} GPUs; CUDA_VISIBLE_DEVICES names {visible.Length}.");
        var rendezvous = Path.Combine(Path.GetTempPath(), $"optdsl-rendezvous-{Guid.NewGuid():N}");
        var processes = new List<Process>();
        try
        {
            for (int rank = 0; rank < worldSize; rank++)
            {
                var info = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in lead.Concat(arguments)) info.ArgumentList.Add(a);
                info.Environment[RankVariable] = rank.ToString();
                info.Environment[WorldSizeVariable] = worldSize.ToString();
                info.Environment[RendezvousVariable] = rendezvous;
                info.Environment["CUDA_VISIBLE_DEVICES"] = visible[rank];
                var process = Process.Start(info) ?? throw new InvalidOperationException($"Rank {rank} could not be started.");
                int r = rank;
                process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine($"[rank {r}] {e.Data}"); };
                process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[rank {r}] {e.Data}"); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                processes.Add(process);
            }
            var waits = processes.Select(p => p.WaitForExitAsync()).ToList();
            while (waits.Count > 0)
            {
                int done = Task.WaitAny(waits.ToArray());
                waits.RemoveAt(done);
                var failed = processes.FirstOrDefault(p => p.HasExited && p.ExitCode != 0);
                if (failed is not null)
                {
                    foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
                    foreach (var p in processes) p.WaitForExit();
                    return failed.ExitCode;
                }
            }
            foreach (var p in processes) p.WaitForExit();   // drains the output
            return 0;
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
            File.Delete(rendezvous);
        }
    }

    /// <summary>The executable of this program and the arguments that come before its own (the assembly, under dotnet).</summary>
    static (string Exe, string[] Lead) Self()
    {
        var exe = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this program is unknown.");
        var entry = Environment.GetCommandLineArgs()[0];
        bool host = Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        return host ? (exe, new[] { entry }) : (exe, Array.Empty<string>());
    }
}
