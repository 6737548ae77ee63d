using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.HandWritten;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>
/// This session's methods on CUDA against the same runs in float64 on the CPU (which the CPU tests check against their
/// references): Sophia (fused update, portable refresh), Prodigy (global sums), NAG-GS, SOAP (eigh and QR on the
/// device), and the curvature estimators.
/// </summary>
public static class CurvatureCheck
{
    const int Steps = 12;

    static Tensor Estimate(int t, int k, ScalarType dtype, Device device)
    {
        using var kept = KeptScalars.Rent();
        return TestData.Gradient(t + 500, k, dtype, device).Squared().mul(kept[4]);
    }

    /// <summary>Gradients pulling toward a target (so Prodigy's d grows), plus the test data's noise.</summary>
    static Tensor Gradient(int t, int k, Tensor p)
    {
        using var kept = KeptScalars.Rent();
        using var _ = no_grad();
        var target = TestData.Gradient(99, k, p.dtype, p.device).mul(kept[2]);
        return (p.detach() - target).Plus(TestData.Gradient(t, k, p.dtype, p.device).mul(kept[0.1]));
    }

    static Parameter[] Run(string name, ScalarType dtype, Device device)
    {
        var ps = TestData.Parameters(dtype, device);
        using DeclaredOptimizer optimizer = name switch
        {
            "Sophia" => new Sophia(ps, lr: 0.01, beta1: 0.9, beta2: 0.95, rho: 0.5),
            "Prodigy" => new Prodigy(ps, weightDecay: 0.1),
            _ => new NagGs(ps, lr: 0.1, gamma: 2),
        };
        for (int t = 1; t <= Steps; t++)
        {
            for (int k = 0; k < ps.Length; k++) ps[k].grad = Gradient(t, k, ps[k]);
            optimizer.step();
            if (name == "Sophia" && t % 3 == 0)
                optimizer.Refresh(ps.Select((p, k) => Estimate(t, k, dtype, device)).ToList());
        }
        return ps;
    }

    /// <summary>(method, path on CUDA, max |CUDA float32 − CPU float64| over the weights).</summary>
    public static IEnumerable<(string Name, string Path, double Error)> Optimizers(Device device)
    {
        foreach (var name in new[] { "Sophia", "Prodigy", "NAG-GS" })
        {
            var reference = Run(name, ScalarType.Float64, CPU);
            var cuda = Run(name, ScalarType.Float32, device);
            double error = cuda.Zip(reference).Max(x => (x.First.cpu().to(ScalarType.Float64) - x.Second).abs().max().item<double>());
            string path = name switch { "Sophia" => "fused update, portable refresh", "Prodigy" => "fused, global sums combined on the host", _ => "fused" };
            yield return (name, path, error);
        }
    }

    /// <summary>
    /// SOAP on CUDA in float32 against its CPU test's expectation (Adam on the coefficients of gradients with fixed
    /// singular bases), relative to how far the weights moved. Not on the tensors above: Adam is not rotation-invariant,
    /// so where Shampoo's factors are degenerate (a rectangular gradient's null directions) the eigensolver's arbitrary
    /// basis changes the steps, and float32 and float64, CPU and CUDA, pick different ones.
    /// </summary>
    public static double Soap(Device device)
    {
        var (start, gradient, _, expected) = OptDsl.Tests.Runtime.SoapScenario.Scenario();
        var ps = start.Select(x => new Parameter(x.to(ScalarType.Float32).to(device))).ToArray();
        OptDsl.Tests.Runtime.SoapScenario.RunScenario(ps, gradient);
        return ps.Zip(expected, start).Max(x =>
            (x.First.cpu().to(ScalarType.Float64) - x.Second).abs().max().item<double>() / (x.Second - x.Third).abs().max().item<double>());
    }

    /// <summary>
    /// PSGD Kron over the test tensors (a 7×13 and a 4×3×5 with triangular factors, vectors with diagonal ones), 12 steps
    /// with the preconditioner updated at every step: on CUDA in float64 and float32 against the CPU in float64, each
    /// relative to how far the weights moved. Its probes are counter-based draws, the same on either device.
    /// </summary>
    public static (double Float64, double Float32) PsgdKron(Device device)
    {
        Parameter[] Run(ScalarType dtype, Device d)
        {
            var ps = TestData.Parameters(dtype, d);
            using var optimizer = new PsgdKron(ps, lr: 0.01, updateProbability: 1, seed: 7);
            for (int t = 1; t <= Steps; t++)
            {
                for (int k = 0; k < ps.Length; k++) ps[k].grad = Gradient(t, k, ps[k]);
                optimizer.step();
            }
            return ps;
        }
        var start = TestData.Parameters(ScalarType.Float64);
        var reference = Run(ScalarType.Float64, CPU);
        double Relative(Parameter[] run) => run.Zip(reference, start).Max(x =>
            (x.First.cpu().to(ScalarType.Float64) - x.Second).abs().max().item<double>() / Math.Max(1e-30, (x.Second - x.Third).abs().max().item<double>()));
        return (Relative(Run(ScalarType.Float64, device)), Relative(Run(ScalarType.Float32, device)));
    }

    /// <summary>(Hutchinson's largest relative difference, GNB's labels equal, GNB's largest relative difference), CUDA vs CPU.</summary>
    public static (double Hutchinson, bool SameLabels, double Gnb) Estimators(Device device)
    {
        (IReadOnlyList<Tensor> H, Tensor Labels, IReadOnlyList<Tensor> G) On(Device d)
        {
            using var kept = KeptScalars.Rent();
            var w1 = new Parameter(torch.linspace(-1, 1, 64 * 16).reshape(64, 16).sin().to(d));
            var w2 = new Parameter(torch.linspace(-2, 2, 16 * 10).reshape(16, 10).cos().to(d));
            var x = torch.linspace(-3, 3, 256 * 64).reshape(256, 64).sin().to(d);
            var ps = new[] { w1, w2 };
            Tensor Logits() => x.matmul(w1).tanh().matmul(w2);
            var h = Curvature.Hutchinson(ps, nn.functional.cross_entropy(Logits(), torch.arange(kept[0L], kept[256L], ScalarCalls.One).remainder(kept[10]).to(d)), 5, 1);
            var labels = Curvature.SampleLabels(Logits(), 5, 2);
            var g = Curvature.GaussNewtonBartlett(ps, Logits(), 5, 2);
            return (h.Select(t => t.cpu()).ToList(), labels.cpu(), g.Select(t => t.cpu()).ToList());
        }
        var cpu = On(CPU);
        var cuda = On(device);
        static double Relative(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b) =>
            a.Zip(b).Max(x => (x.First - x.Second).abs().max().item<float>() / Math.Max(1e-30, x.Second.abs().max().item<float>()));
        return (Relative(cuda.H, cpu.H), cuda.Labels.equal(cpu.Labels).all().item<bool>(), Relative(cuda.G, cpu.G));
    }
}
