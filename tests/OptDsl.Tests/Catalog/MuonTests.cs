using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Muon against its reference implementation's equations (momentum, Nesterov look-ahead, quintic Newton–Schulz,
/// shape scale, decoupled decay) written out here in float64, and the orthogonalisation's defining property.
/// </summary>
public class MuonTests
{
    static readonly long[][] Shapes = { new long[] { 6, 10 }, new long[] { 12, 5 }, new long[] { 4, 3, 5 } };


    static Parameter[] Parameters(ScalarType dtype) =>
        Shapes.Select((s, k) => new Parameter(TestData.Normal(s, 5 + (ulong)k).to(dtype))).ToArray();

    static Tensor Gradient(int step, int k, ScalarType dtype) => TestData.Normal(Shapes[k], 100 * (ulong)step + (ulong)k).to(dtype);

    /// <summary>Newton–Schulz as the reference writes it, on a matrix, in float64 (NorMuon's and AdaMuon's references use it too).</summary>
    internal static Tensor Orthogonalize(Tensor g, int steps, double a = 3.4445, double b = -4.7750, double c = 2.0315)
    {
        using var kept = KeptScalars.Rent();
        var x = g;
        bool tall = x.shape[0] > x.shape[1];
        if (tall) x = x.t();
        x = x / x.Squared().sum().sqrt().add(kept[1e-7], ScalarCalls.One);
        for (int i = 0; i < steps; i++)
        {
            var gram = x.mm(x.t());
            x = x.mul(kept[a]).Plus(gram.mul(kept[b]).Plus(gram.mm(gram).mul(kept[c])).mm(x));
        }
        return tall ? x.t() : x;
    }

    static Tensor[] Reference(int steps, double lr, double momentum, bool nesterov, int nsSteps, double wd, bool polarExpress = false)
    {
        using var kept = KeptScalars.Rent();
        var p = Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        var buffers = p.Select(x => torch.zeros_like(x)).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int k = 0; k < p.Length; k++)
            {
                var g = Gradient(t, k, ScalarType.Float64);
                buffers[k] = buffers[k].Plus((g - buffers[k]).mul(kept[(1 - momentum)]));
                var u = nesterov ? g.Plus((buffers[k] - g).mul(kept[momentum])) : buffers[k];
                long rows = p[k].shape[0], columns = p[k].NumberOfElements / rows;
                var matrix = u.reshape(rows, columns);
                var o = (polarExpress ? PolarExpressTests.Algorithm1(matrix, nsSteps) : Orthogonalize(matrix, nsSteps)).reshape(p[k].shape);
                p[k] = p[k].mul(kept[(1 - lr * wd)]) - o.mul(kept[lr * Math.Sqrt(Math.Max(1.0, (double)rows / columns))]);
            }
        return p;
    }

    [Theory]
    [InlineData(true, 5, 0.0, false)]
    [InlineData(false, 3, 0.1, false)]
    [InlineData(true, 5, 0.0, true)]
    [InlineData(false, 9, 0.1, true)] // past the table: its last polynomial repeats
    public void Follows_the_reference_equations(bool nesterov, int nsSteps, double weightDecay, bool polarExpress)
    {
        var expected = Reference(6, 0.02, 0.9, nesterov, nsSteps, weightDecay, polarExpress);
        // float64: the same operations, 1e-12 relative. float32: rounding through a few matmul chains per step,
        // measured up to 5e-7 of the weights' scale over 6 steps; 5e-6 leaves a 10x margin.
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float64, 1e-12), (ScalarType.Float32, 5e-6) })
        {
            var parameters = Parameters(dtype);
            using var muon = new Muon(parameters, lr: 0.02, momentum: 0.9, nesterov: nesterov, nsSteps: nsSteps, weightDecay: weightDecay, polarExpress: polarExpress);
            for (int t = 1; t <= 6; t++)
            {
                using (torch.no_grad())
                    for (int k = 0; k < parameters.Length; k++) parameters[k].grad = Gradient(t, k, dtype);
                muon.step();
            }
            for (int k = 0; k < parameters.Length; k++)
            {
                double error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
                double scale = expected[k].abs().max().item<double>();
                Assert.True(error <= tolerance * scale, $"{dtype} tensor {k}: off by {error:E2}");
            }
        }
    }

    [Fact]
    public void One_optimizer_over_many_matrices_equals_one_optimizer_per_matrix()
    {
        // Four 6x10 matrices and a 12x5 one in one optimizer against one optimizer each: on the CPU the runtime
        // orthogonalises one matrix at a time, so the two agree bit for bit.
        long[][] shapes = { new long[] { 6, 10 }, new long[] { 12, 5 }, new long[] { 6, 10 }, new long[] { 6, 10 }, new long[] { 6, 10 } };
        Parameter[] Make() => shapes.Select((s, k) => new Parameter(TestData.Normal(s, 40 + (ulong)k))).ToArray();
        var together = Make();
        var alone = Make();
        using var batched = new Muon(together, lr: 0.02, weightDecay: 0.01);
        var singles = alone.Select(p => new Muon(new[] { p }, lr: 0.02, weightDecay: 0.01)).ToArray();
        for (int t = 1; t <= 4; t++)
        {
            for (int k = 0; k < shapes.Length; k++)
            {
                together[k].grad = TestData.Normal(shapes[k], 500 + 10 * (ulong)t + (ulong)k);
                alone[k].grad = TestData.Normal(shapes[k], 500 + 10 * (ulong)t + (ulong)k);
            }
            batched.step();
            foreach (var single in singles) single.step();
        }
        for (int k = 0; k < shapes.Length; k++)
            Assert.True(TestData.Identical(together[k], alone[k]), $"matrix {k}");
        foreach (var single in singles) single.Dispose();
    }

    static IEnumerator<WholeTensorRequest> Ask(MatrixRequest request)
    {
        yield return request;
    }

    [Fact]
    public void The_runner_answers_same_shaped_requests_with_one_batched_chain_equal_to_each_alone()
    {
        // The optimizer batches on CUDA only; the runner's batching itself is checked here, in float64 on the CPU.
        var like = torch.zeros(6, 10, ScalarType.Float64);
        var requests = Enumerable.Range(0, 4).Select(k => new MatrixRequest(TestData.Normal(new long[] { 6, 10 }, 70 + (ulong)k), like, 5, 3.4445, -4.7750, 2.0315)).ToList();
        requests.Add(new MatrixRequest(TestData.Normal(new long[] { 12, 5 }, 80), torch.zeros(12, 5, ScalarType.Float64), 5, 3.4445, -4.7750, 2.0315));
        StepRunner.Run(requests.Select(Ask).ToList());
        foreach (var r in requests)
        {
            var alone = MatrixMath.NewtonSchulz(r.Input, r.Like, r.Steps, r.A, r.B, r.C);
            Assert.True(r.Result.allclose(alone, rtol: 1e-13, atol: 1e-15));
        }
    }

    [Fact]
    public void The_bfloat16_iteration_that_CUDA_runs_follows_the_float64_one_batched_and_alone()
    {
        // The bfloat16 iteration folds each sum into its matmul (addmm, baddbmm); run here on the CPU in bfloat16,
        // singly and as a batch with a tall matrix, it stays within bfloat16's rounding of the float64 iteration.
        var wide = Enumerable.Range(0, 3).Select(k => TestData.Normal(new long[] { 8, 24 }, 90 + (ulong)k)).ToArray();
        var tall = TestData.Normal(new long[] { 24, 8 }, 95);
        var batched = MatrixMath.Orthogonalize(torch.stack(wide).to(ScalarType.BFloat16), 5, 3.4445, -4.7750, 2.0315);
        var alone = MatrixMath.Orthogonalize(tall.to(ScalarType.BFloat16), 5, 3.4445, -4.7750, 2.0315);
        Assert.Equal(ScalarType.BFloat16, batched.dtype);
        for (int k = 0; k < wide.Length; k++) AssertNear(Orthogonalize(wide[k], 5), batched[k]);
        AssertNear(Orthogonalize(tall, 5), alone);

        static void AssertNear(Tensor expected, Tensor actual)
        {
            // Entries are about 0.2 in size; five iterations of bf16 rounding (2^-8) leave a few percent at most.
            double error = (actual.to(ScalarType.Float64) - expected).abs().max().item<double>();
            Assert.True(error < 0.03, $"off by {error:E2}");
        }
    }

    [Fact]
    public void Bfloat16_matrices_are_orthogonalised_in_float32_on_the_CPU_and_rounded_once()
    {
        var expected = Reference(2, 0.02, 0.9, true, 5, 0);
        var parameters = Parameters(ScalarType.BFloat16);
        using var muon = new Muon(parameters, lr: 0.02, momentum: 0.9);
        for (int t = 1; t <= 2; t++)
        {
            for (int k = 0; k < parameters.Length; k++) parameters[k].grad = Gradient(t, k, ScalarType.BFloat16);
            muon.step();
        }
        Assert.Equal(ScalarType.Float32, muon.StateOf(parameters[0]).Buffer.dtype);
        for (int k = 0; k < parameters.Length; k++)
        {
            // bf16 inputs (2^-8 relative) and one rounding of the result: within 1% of the weights' scale.
            double error = (parameters[k].to(ScalarType.Float64) - expected[k]).abs().max().item<double>();
            Assert.True(error <= 0.01 * expected[k].abs().max().item<double>(), $"tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void Its_update_has_singular_values_near_one()
    {
        // With zero momentum, no decay and lr 1, one step moves the weights by -o: the orthogonalised gradient.
        var p = new Parameter(torch.zeros(16, 40, ScalarType.Float64));
        using var muon = new Muon(new[] { p }, lr: 1, momentum: 0, nesterov: false, nsSteps: 5);
        p.grad = TestData.Normal(new long[] { 16, 40 }, 9) * torch.linspace(0.01, 10, 40, ScalarType.Float64);
        muon.step();
        var singular = torch.linalg.svdvals(p.detach().neg());
        // The quintic iteration trades exactness for speed: its fixed band is about [0.68, 1.13], not {1}.
        Assert.True(singular.min().item<double>() > 0.6 && singular.max().item<double>() < 1.2, $"singular values {singular.min().item<double>():F3} to {singular.max().item<double>():F3}");
    }

    [Fact]
    public void Parameters_that_are_not_matrices_are_refused_with_a_pointer_to_routing()
    {
        var e = Assert.Throws<ArgumentException>(() => new Muon(new[] { new Parameter(torch.ones(4)) }));
        Assert.Contains("Matrix.NewtonSchulz", e.Message);
        Assert.Contains("Routing.Route", e.Message);
        // A matrix is taken, and updated by the fused CPU path in two phases around the orthogonalisation.
        var matrix = new Parameter(torch.ones(2, 2));
        using var muon = new Muon(new[] { matrix });
        matrix.grad = torch.ones(2, 2);
        muon.step();
        Assert.Contains("2 phases", muon.FusedStatus);
    }

    [Fact]
    public void Routed_with_AdamW_it_trains_a_small_network()
    {
        torch.manual_seed(2);
        var model = nn.Sequential(("embed", nn.Linear(8, 32)), ("act", nn.Tanh()), ("hidden", nn.Linear(32, 32)), ("act2", nn.Tanh()), ("head", nn.Linear(32, 1)));
        var x = TestData.Normal(new long[] { 256, 8 }, 77).to(ScalarType.Float32);
        var y = x.sum(1, keepdim: true).sin();
        using var optimizer = model.named_parameters()
            .Route("muon", Routing.Matrices("embed", "head"), ps => new Muon(ps, lr: 0.02))
            .Otherwise("adamw", ps => new Optimizers.AdamW(ps, lr: 3e-3));
        Assert.Equal(new[] { "hidden.weight" }, optimizer.Routes[0].ParameterNames);
        double first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(x), y);
            loss.backward();
            optimizer.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < 0.2 * first, $"loss {first:F4} -> {last:F4}");
    }
}
