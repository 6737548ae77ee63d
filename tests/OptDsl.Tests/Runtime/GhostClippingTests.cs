using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Training.Privacy;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Ghost clipping against the micro-batch fallback, layer type by layer type: each example's gradient norm from one
/// batched backward to the layers' outputs equals the norm of the gradient of that example's loss backpropagated alone
/// (float64, 1e-10 relative); a DP-AdamW step by ghost clipping equals the micro-batch step (noise, clipping and error
/// feedback included); modules it does not cover are refused with the way out named.
/// </summary>
public class GhostClippingTests
{
    const int Batch = 5;

    /// <summary>A model of one layer kind (or several), with the input that drives it and a per-example loss.</summary>
    sealed class Net : nn.Module<Tensor, Tensor>
    {
        readonly Func<Tensor, Tensor> _forward;
        public Net(string name, Func<Tensor, Tensor> forward, params (string, nn.Module)[] layers) : base(name)
        {
            _forward = forward;
            foreach (var (n, m) in layers) register_module(n, m);
        }
        public override Tensor forward(Tensor x) => _forward(x);
    }

    static (Net Model, Tensor Input) Build(string kind)
    {
        using var kept = KeptScalars.Rent();
        torch.manual_seed(11);
        switch (kind)
        {
            case "linear":
            {
                var a = nn.Linear(4, 6);
                var b = nn.Linear(6, 3, hasBias: false);
                var net = new Net(kind, x => b.call(a.call(x).tanh()).sum(new long[] { 1 }), ("a", a), ("b", b));
                return (net, torch.linspace(-2, 2, Batch * 3 * 4).reshape(Batch, 3, 4).sin());
            }
            case "sequential":      // Sequential disposes what it passes along; the recorded outputs must survive it
            {
                var seq = nn.Sequential(("a", nn.Linear(4, 8)), ("act", nn.Tanh()), ("b", nn.Linear(8, 3)));
                var net = new Net(kind, x => seq.call(x), ("seq", seq));
                return (net, torch.linspace(-2, 2, Batch * 4).reshape(Batch, 4).sin());
            }
            case "shared-linear":   // one layer called twice: its norm is over both calls
            {
                var a = nn.Linear(4, 4);
                var head = nn.Linear(4, 3);
                var net = new Net(kind, x => head.call(a.call(a.call(x).tanh())), ("a", a), ("head", head));
                return (net, torch.linspace(-2, 2, Batch * 4).reshape(Batch, 4).cos());
            }
            case "embedding":       // repeated tokens in an example make x_t·x_s = 1 off the diagonal
            {
                var e = nn.Embedding(7, 4);
                var head = nn.Linear(4, 3);
                var net = new Net(kind, x => head.call(e.call(x)).mean(new long[] { 1 }), ("e", e), ("head", head));
                return (net, torch.tensor(new long[] { 1, 2, 1, 5, 5, 0, 3, 3, 3, 6, 2, 4, 1, 0, 6, 6, 6, 6, 2, 1 }).reshape(Batch, 4));
            }
            case "embedding-padding":   // index 0 is padding: no gradient there
            {
                var e = nn.Embedding(7, 4, padding_idx: 0);
                var head = nn.Linear(4, 3);
                var net = new Net(kind, x => head.call(e.call(x)).mean(new long[] { 1 }), ("e", e), ("head", head));
                return (net, torch.tensor(new long[] { 1, 0, 1, 0, 5, 0, 3, 3, 0, 6, 2, 4, 1, 0, 6, 6, 0, 0, 2, 1 }).reshape(Batch, 4));
            }
            case "layernorm":
            {
                var n = nn.LayerNorm(new long[] { 2, 3 }, eps: 1e-3);
                var head = nn.Linear(6, 3);
                var net = new Net(kind, x => head.call(n.call(x).flatten(2)).sum(new long[] { 1 }), ("n", n), ("head", head));
                return (net, torch.linspace(-2, 3, Batch * 4 * 6).reshape(Batch, 4, 2, 3).sin().add(kept[0.5], ScalarCalls.One));
            }
            case "conv1d":          // stride, dilation, padding and groups
            {
                var c = nn.Conv1d(4, 6, 3, stride: 2, padding: 2, dilation: 2, groups: 2);
                var head = nn.Linear(6, 3);
                var net = new Net(kind, x => head.call(c.call(x).tanh().transpose(1, 2)).sum(new long[] { 1 }), ("c", c), ("head", head));
                return (net, torch.linspace(-2, 2, Batch * 4 * 9).reshape(Batch, 4, 9).sin());
            }
            case "conv2d":          // strided; 'same' padding (uneven) and dilated; reflected padding
            {
                var c = nn.Conv2d(2, 4, (3, 3), stride: (2, 1), padding: (1, 0));
                var d = nn.Conv2d(4, 4, (2, 3), Padding.Same, dilation: (1, 2), groups: 4);
                var r = nn.Conv2d(4, 4, (3, 3), padding: (1, 1), padding_mode: PaddingModes.Reflect, groups: 2);
                var head = nn.Linear(4, 3);
                var net = new Net(kind, x => head.call(r.call(d.call(c.call(x).tanh()).tanh()).mean(new long[] { 2, 3 })), ("c", c), ("d", d), ("r", r), ("head", head));
                return (net, torch.linspace(-2, 2, Batch * 2 * 7 * 6).reshape(Batch, 2, 7, 6).cos());
            }
            default: throw new ArgumentException(kind);
        }
    }

    static Tensor Labels => torch.tensor(new long[] { 0, 2, 1, 1, 0 });

    static Tensor Losses(Net model, Tensor x, Tensor labels) => nn.functional.cross_entropy(model.call(x), labels, reduction: nn.Reduction.None);

    static Net InFloat64(Net model) => (Net)model.to(ScalarType.Float64);

    static Tensor Input64(Tensor x) => x.dtype == ScalarType.Int64 ? x : x.to(ScalarType.Float64);

    [Theory]
    [InlineData("linear")]
    [InlineData("sequential")]
    [InlineData("shared-linear")]
    [InlineData("embedding")]
    [InlineData("embedding-padding")]
    [InlineData("layernorm")]
    [InlineData("conv1d")]
    [InlineData("conv2d")]
    public void Norms_equal_the_micro_batch_ones(string kind)
    {
        var (model, x) = Build(kind);
        model = InFloat64(model);
        x = Input64(x);
        using var ghost = new GhostClipping(model, embeddingPaddingIndex: kind == "embedding-padding" ? 0 : null);
        var norms = ghost.PerExampleNorms(() => Losses(model, x, Labels));
        Assert.Equal(new long[] { Batch }, norms.shape);
        Assert.True(model.parameters().All(p => p.grad is null), "PerExampleNorms must leave the parameters' gradients alone");
        for (int i = 0; i < Batch; i++)
        {
            model.zero_grad();
            Losses(model, x[i..(i + 1)], Labels[i..(i + 1)]).sum().backward();
            double direct = Math.Sqrt(model.parameters().Sum(p => p.grad is null ? 0 : p.grad.Squared().sum().item<double>()));
            double g = norms[i].item<double>();
            Assert.True(direct > 1e-3, $"{kind}: example {i}'s gradient is too small to test");
            Assert.True(Math.Abs(g - direct) <= 1e-10 * direct, $"{kind}, example {i}: ghost {g}, micro-batch {direct}");
        }
    }

    [Theory]
    [InlineData("embedding", null)]
    [InlineData("sequential", null)]
    [InlineData("conv2d", null)]
    [InlineData("layernorm", 5.0)]
    public void A_DP_AdamW_step_by_ghost_clipping_is_the_micro_batch_step(string kind, double? errorFeedbackClip)
    {
        const double c = 0.3, sigma = 0.7;
        var (micro, x) = Build(kind);
        var (batched, _) = Build(kind);
        micro = InFloat64(micro);
        batched = InFloat64(batched);
        // The same start (other tests draw from torch's global generator meanwhile).
        using (no_grad())
            foreach (var (a, b) in micro.parameters().Zip(batched.parameters())) b.copy_(a);
        x = Input64(x);
        var dpMicro = new DpSgd(new OptDsl.Optimizers.AdamW(micro.parameters(), lr: 0.05), c, sigma, seed: 4, errorFeedbackClip);
        var dpGhost = new DpSgd(new OptDsl.Optimizers.AdamW(batched.parameters(), lr: 0.05), c, sigma, seed: 4, errorFeedbackClip);
        using var ghost = new GhostClipping(batched);
        for (int step = 0; step < 3; step++)
        {
            double lossMicro = dpMicro.Step(Batch, i => Losses(micro, x[i..(i + 1)], Labels[i..(i + 1)])[0]);
            double lossGhost = dpGhost.Step(ghost, () => Losses(batched, x, Labels));
            Assert.True(Math.Abs(lossMicro - lossGhost) < 1e-12, $"step {step}: loss {lossMicro} vs {lossGhost}");
            Assert.Equal(dpMicro.LastClipped, dpGhost.LastClipped);
        }
        Assert.True(dpGhost.LastClipped > 0, "the test must exercise clipping");
        foreach (var (a, b) in micro.parameters().Zip(batched.parameters()))
            Assert.True((a - b).abs().max().item<double>() < 1e-10, $"{kind}: parameters differ by {(a - b).abs().max().item<double>()}");
        if (errorFeedbackClip is not null)
            foreach (var (a, b) in dpMicro.ErrorState!.Zip(dpGhost.ErrorState!))
                Assert.True((a - b).abs().max().item<double>() < 1e-10);
    }

    [Fact]
    public void Modules_it_does_not_cover_are_refused_with_the_fallback_named()
    {
#pragma warning disable RS0030 // built only to be refused: its forward, which passes a temporary Scalar, never runs
        var norm = nn.BatchNorm1d(4);
#pragma warning restore RS0030
        var head = nn.Linear(4, 2);
        var net = new Net("bn", x => head.call(norm.call(x)), ("norm", norm), ("head", head));
        var e = Assert.Throws<NotSupportedException>(() => new GhostClipping(net));
        Assert.Contains("norm.weight", e.Message);
        Assert.Contains("BatchNorm1d", e.Message);
        Assert.Contains("DpSgd.Step(batchSize, exampleLoss)", e.Message);

        // Frozen, it is no longer a problem.
        foreach (var p in norm.parameters()) p.requires_grad = false;
        using var ghost = new GhostClipping(net);
        Assert.Equal(2, ghost.Parameters.Count);
    }

    [Fact]
    public void Mismatched_optimizers_and_mean_losses_are_refused_before_anything_changes()
    {
        var (model, x) = Build("linear");
        using var ghost = new GhostClipping(model);
        var first = model.parameters().First();
        var before = first.detach().clone();
        var partial = new DpSgd(new OptDsl.Optimizers.SGD(model.parameters().Skip(1), lr: 0.1), 1, 1, 1);
        Assert.Contains("does not step", Assert.Throws<ArgumentException>(() => partial.Step(ghost, () => Losses(model, x, Labels))).Message);
        var dp = new DpSgd(new OptDsl.Optimizers.SGD(model.parameters(), lr: 0.1), 1, 1, 1);
        Assert.Contains("one per example", Assert.Throws<ArgumentException>(() => dp.Step(ghost, () => Losses(model, x, Labels).mean())).Message);
        Assert.True(first.equal(before).all().item<bool>());
        Assert.Equal(0, dp.StepCount);
        // The recording ended with the failed step: the next one runs.
        dp.Step(ghost, () => Losses(model, x, Labels));
        Assert.Equal(1, dp.StepCount);
    }
}
