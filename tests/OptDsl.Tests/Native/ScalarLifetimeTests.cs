using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace OptDsl.Tests.Native;

/// <summary>Runs alone: the collections it forces would otherwise hit whatever runs beside it.</summary>
[CollectionDefinition(nameof(ScalarLifetimeTests), DisableParallelization = true)]
public sealed class ScalarLifetimeCollection;

/// <summary>
/// Guards issue 30, item 12. TorchSharp 0.107 reads the handle of a <see cref="Scalar"/> made from a number and leaves the
/// object to the finalizer, which can free it while libtorch still reads it: libtorch's "toDouble" error, an INTERNAL
/// ASSERT in Scalar.h, or a silently wrong value, at random. Here finalization is forced during long loops of native calls
/// that take Scalars, the way the runtime and the generated code pass them (<see cref="KeptScalars"/>,
/// <see cref="ScalarCalls"/>); every result must come out exact. Written the old way — <c>acc.add_(x, alpha: 0.5)</c> and
/// <c>acc.add_(x)</c>, whose Scalars nothing keeps — the first loop failed within about a second in each of six runs
/// ("Expected false to be true" from libtorch after some 10,000 iterations); the build now refuses that code
/// (BannedSymbols.txt).
/// </summary>
[Collection(nameof(ScalarLifetimeTests))]
public class ScalarLifetimeTests
{
    static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

    [Fact]
    public void Kept_scalars_survive_finalization_forced_during_native_calls()
    {
        var x = torch.ones(16, dtype: ScalarType.Float64);
        var acc = torch.zeros(16, dtype: ScalarType.Float64);
        long n = 0;
        var (iterations, failure) = UnderFinalizerPressure(Duration, () =>
        {
            using var kept = KeptScalars.Rent();
            for (int k = 0; k < 8; k++)
            {
                acc.add_(x, alpha: kept[0.5]);
                acc.Plus_(x);
                n++;
            }
        });
        Assert.Null(failure);
        Assert.True(iterations > 0);
        Assert.Equal(1.5 * n, acc[0].item<double>());
        Assert.True(acc.eq(acc[0]).all().item<bool>());
    }

    [Fact]
    public void Portable_update_survives_finalization_forced_during_native_calls()
    {
        static (Parameter, AdamW) Make()
        {
            var p = new Parameter(torch.linspace(-1, 1, 64, dtype: ScalarType.Float64));
            p.grad = torch.linspace(0.5, -0.25, 64, dtype: ScalarType.Float64);
            return (p, new AdamW(new[] { p }, lr: 0.01, weightDecay: 0.1, amsgrad: true) { Backend = UpdateBackend.Portable });
        }
        var (under, stressed) = Make();
        long steps = 0;
        var (_, failure) = UnderFinalizerPressure(Duration, () =>
        {
            stressed.step();
            steps++;
        });
        Assert.Null(failure);
        var (calm, reference) = Make();
        for (long s = 0; s < steps; s++) reference.step();
        Assert.True(under.eq(calm).all().item<bool>(), $"after {steps} steps the update under finalizer pressure differs from the one without");
    }

    /// <summary>
    /// Runs <paramref name="body"/> for <paramref name="duration"/> while another thread forces collections and waits for
    /// the finalizers. Both threads share one core, so the collector runs only while the loop is switched out — often in
    /// the middle of a native call, which is when a Scalar nothing holds gets freed under libtorch.
    /// </summary>
    static (long Iterations, Exception? Failure) UnderFinalizerPressure(TimeSpan duration, Action body)
    {
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            PinToFirstCore();
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true };
        long iterations = 0;
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            PinToFirstCore();
            var clock = Stopwatch.StartNew();
            try
            {
                while (clock.Elapsed < duration)
                {
                    body();
                    iterations++;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        collector.Start();
        worker.Start();
        worker.Join();
        stop.Cancel();
        collector.Join();
        return (iterations, failure);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int sched_setaffinity(int pid, IntPtr size, ref ulong mask);

    /// <summary>The calling thread runs on the first core only (Linux; elsewhere the threads run where they may).</summary>
    static void PinToFirstCore()
    {
        if (!OperatingSystem.IsLinux()) return;
        ulong mask = 1;
        _ = sched_setaffinity(0, (IntPtr)sizeof(ulong), ref mask);
    }
}
