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
/// Ghost norms for a linear layer against the micro-batch path: each example's loss backpropagated alone and the norm
/// of its weight and bias gradients taken directly — for [B, d] inputs and for [B, T, d] inputs on both sides of the
/// T² against d_in·d_out switch. float64, 1e-10 relative.
/// </summary>
public class GhostNormsTests
{
    [Theory]
    [InlineData(0, 5, 3)]     // [B, d]
    [InlineData(4, 5, 3)]     // T² = 16 > 15: per-example gradients formed
    [InlineData(3, 6, 4)]     // T² = 9 <= 24: Gram matrices
    public void Agree_with_per_example_backward_passes(int positions, int inputs, int outputs)
    {
        const int batch = 4;
        torch.manual_seed(3);
        var layer = nn.Linear(inputs, outputs, dtype: ScalarType.Float64);
        var shape = positions == 0 ? new long[] { batch, inputs } : new long[] { batch, positions, inputs };
        var x = torch.linspace(-2, 2, shape.Aggregate(1L, (a, b) => a * b), ScalarType.Float64).reshape(shape).sin();
        // A loss that is a sum over examples, each term nonlinear in the layer's output.
        Tensor ExampleLoss(Tensor y)
        {
            using var kept = KeptScalars.Rent();
            return (y.tanh() * torch.linspace(0.5, 1.5, outputs, ScalarType.Float64)).sum().Plus(y.Squared().sum().mul(kept[0.1]));
        }

        var output = layer.forward(x);
        var total = Enumerable.Range(0, batch).Select(i => ExampleLoss(output[i])).Aggregate((a, b) => a.Plus(b));
        var outputGrad = torch.autograd.grad(new[] { total }, new[] { output })[0];
        var ghost = GhostNorms.Linear(x, outputGrad);

        for (int i = 0; i < batch; i++)
        {
            layer.zero_grad();
            ExampleLoss(layer.forward(x[i].unsqueeze(0))[0]).backward();
            double direct = layer.weight!.grad!.Squared().sum().item<double>() + layer.bias!.grad!.Squared().sum().item<double>();
            double g = ghost[i].item<double>();
            Assert.True(Math.Abs(g - direct) <= 1e-10 * direct, $"example {i}: ghost {g}, direct {direct}");
        }
        Assert.Throws<ArgumentException>(() => GhostNorms.Linear(x, outputGrad[..2]));
    }

    /// <summary>The public LayerNorm and Conv functions (what GhostClipping composes over calls) on one layer each.</summary>
    [Theory]
    [InlineData("layernorm")]
    [InlineData("conv2d")]
    public void LayerNorm_and_Conv_agree_with_per_example_backward_passes(string kind)
    {
        const int batch = 3;
        torch.manual_seed(5);
        nn.Module<Tensor, Tensor> layer;
        Tensor x;
        if (kind == "layernorm")
        {
            layer = nn.LayerNorm(new long[] { 4 }, eps: 1e-3, dtype: ScalarType.Float64);
            x = torch.linspace(-2, 3, batch * 5 * 4, ScalarType.Float64).reshape(batch, 5, 4).sin();
        }
        else
        {
            layer = nn.Conv2d(2, 3, (3, 2), stride: (1, 2), padding: (1, 1), groups: 1, dtype: ScalarType.Float64);
            x = torch.linspace(-2, 3, batch * 2 * 5 * 6, ScalarType.Float64).reshape(batch, 2, 5, 6).cos();
        }
        Tensor ExampleLoss(Tensor y) => y.tanh().mul(torch.linspace(0.5, 1.5, y.NumberOfElements, ScalarType.Float64).reshape(y.shape)).sum();
        var output = layer.call(x);
        var total = Enumerable.Range(0, batch).Select(i => ExampleLoss(output[i])).Aggregate((a, b) => a.Plus(b));
        var outputGrad = torch.autograd.grad(new[] { total }, new[] { output })[0];
        var ghost = kind == "layernorm"
            ? GhostNorms.LayerNorm(x, outputGrad, new long[] { 4 }, 1e-3)
            : GhostNorms.Conv((TorchSharp.Modules.Convolution)layer, x, outputGrad);
        for (int i = 0; i < batch; i++)
        {
            layer.zero_grad();
            ExampleLoss(layer.call(x[i..(i + 1)])[0]).backward();
            double direct = layer.parameters().Sum(p => p.grad!.Squared().sum().item<double>());
            Assert.True(Math.Abs(ghost[i].item<double>() - direct) <= 1e-10 * direct, $"{kind}, example {i}: ghost {ghost[i].item<double>()}, direct {direct}");
        }
    }
}
