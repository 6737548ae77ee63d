using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Privacy;

/// <summary>
/// Per-example gradient norms without per-example gradients ("ghost clipping"), from what a layer saw (its input) and
/// the loss's gradient with respect to its output. For a linear map <c>y_t = W x_t</c> over positions t, example i's
/// gradient is <c>Σ_t g_t x_tᵀ</c>, so <c>‖∇W_i‖² = Σ_{t,s} (x_t·x_s)(g_t·g_s)</c> — two T×T Gram matrices instead of a
/// d_out×d_in gradient (formed only where T² exceeds d_in·d_out, when it is the cheaper of the two). Embeddings are the
/// same identity with one-hot inputs (<c>x_t·x_s</c> = whether the tokens match), convolutions a linear map over
/// unfolded patches, LayerNorm's affine weight an elementwise product. Every function returns the squared norms, [B].
/// </summary>
public static class GhostNorms
{
    /// <summary>
    /// A linear layer <c>y = x Wᵀ + b</c>: <paramref name="input"/> [B, …, d_in], <paramref name="outputGrad"/>
    /// [B, …, d_out] (the same middle dimensions, which are positions). Includes the bias's part when <paramref name="bias"/>.
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor outputGrad, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outputGrad);
        if (input.dim() != outputGrad.dim() || input.dim() < 2 || !input.shape[..^1].SequenceEqual(outputGrad.shape[..^1]))
            throw new ArgumentException(
                $"A linear layer's input [{Shape(input)}] and output gradient [{Shape(outputGrad)}] must be [B, …, d] with the same leading dimensions.");
        using var scope = NewDisposeScope();
        var x = Positions(input);
        var g = Positions(outputGrad);
        var result = Outer(x, g);
        if (bias) result = result.Plus(SumOverPositions(g));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// An embedding: <paramref name="indices"/> [B, …] (integers), <paramref name="outputGrad"/> [B, …, d]. Positions
    /// holding <paramref name="paddingIndex"/> get no gradient (as <c>padding_idx</c> does) and are left out.
    /// </summary>
    public static Tensor Embedding(Tensor indices, Tensor outputGrad, long? paddingIndex = null)
    {
        using var kept = KeptScalars.Rent();
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(outputGrad);
        if (indices.dtype is not (ScalarType.Int64 or ScalarType.Int32) || indices.dim() < 1 || outputGrad.dim() != indices.dim() + 1
            || !indices.shape.SequenceEqual(outputGrad.shape[..^1]))
            throw new ArgumentException(
                $"An embedding's indices [{Shape(indices)}] ({indices.dtype}) and output gradient [{Shape(outputGrad)}] must be integers [B, …] and [B, …, d].");
        using var scope = NewDisposeScope();
        long b = indices.shape[0];
        var idx = indices.reshape(b, -1);
        var g = outputGrad.reshape(b, idx.shape[1], outputGrad.shape[^1]);
        if (paddingIndex is { } pad) g = g.mul(idx.ne(kept[pad]).unsqueeze(2).to(g.dtype));
        var same = idx.unsqueeze(2).eq(idx.unsqueeze(1)).to(g.dtype);   // [B, T, T]: x_t·x_s for one-hot rows
        var result = same.mul(g.matmul(g.transpose(1, 2))).sum(new long[] { 1, 2 });
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// LayerNorm's affine parameters over the last dimensions <paramref name="normalizedShape"/>:
    /// <c>‖Σ_t g_t ⊙ x̂_t‖² (+ ‖Σ_t g_t‖²)</c> with x̂ the normalised input, recomputed here with <paramref name="eps"/>.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, Tensor outputGrad, long[] normalizedShape, double eps, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outputGrad);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        int k = normalizedShape.Length;
        if (!input.shape.SequenceEqual(outputGrad.shape) || k < 1 || input.dim() < k + 1 || !input.shape[^k..].SequenceEqual(normalizedShape))
            throw new ArgumentException(
                $"LayerNorm over [{string.Join(", ", normalizedShape)}]: input [{Shape(input)}] and output gradient [{Shape(outputGrad)}] must be the same [B, …, {string.Join(", ", normalizedShape)}].");
        using var scope = NewDisposeScope();
        long b = input.shape[0], n = normalizedShape.Aggregate(1L, (a, d) => a * d);
        var x = input.reshape(b, -1, n);
        var g = outputGrad.reshape(b, -1, n);
        var result = Elementwise(Normalized(x, eps), g);
        if (bias) result = result.Plus(SumOverPositions(g));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A convolution (Conv1d or Conv2d, any stride, dilation, padding, padding mode and groups):
    /// <paramref name="input"/> [B, C_in, …], <paramref name="outputGrad"/> [B, C_out, …]. The input is padded and
    /// unfolded into patches, one per output position, and each group is a linear map over them.
    /// </summary>
    public static Tensor Conv(Convolution conv, Tensor input, Tensor outputGrad)
    {
        ArgumentNullException.ThrowIfNull(conv);
        using var scope = NewDisposeScope();
        var (groups, biasGrad) = ConvPositions(conv, input, outputGrad);
        var result = groups.Select(p => Outer(p.X, p.G)).Aggregate((a, c) => a.Plus(c));
        if (biasGrad is not null) result = result.Plus(SumOverPositions(biasGrad));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Conv"/> handles <paramref name="conv"/>; if not, why.</summary>
    internal static string? Unsupported(Convolution conv) =>
        conv.transposed ? "a transposed convolution"
        : conv.kernel_size is not { Length: 1 or 2 } ? $"a {conv.kernel_size?.Length}-d convolution"
        : null;

    /// <summary>
    /// A convolution as linear maps over positions: per group, the patches [B, L, C_in/G·K] and the output gradient
    /// [B, L, C_out/G]; and the output gradient [B, L, C_out] for the bias (null without one).
    /// </summary>
    internal static (List<(Tensor X, Tensor G)> Groups, Tensor? BiasGrad) ConvPositions(Convolution conv, Tensor input, Tensor outputGrad)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outputGrad);
        if (Unsupported(conv) is { } why) throw new NotSupportedException($"Ghost norms do not cover {why}.");
        int dims = conv.kernel_size!.Length;
        if (input.dim() != dims + 2 || outputGrad.dim() != dims + 2 || input.shape[0] != outputGrad.shape[0]
            || input.shape[1] != conv.in_channels || outputGrad.shape[1] != conv.out_channels)
            throw new ArgumentException(
                $"A {dims}-d convolution ({conv.in_channels} → {conv.out_channels} channels) needs a batched input [{Shape(input)}] and output gradient [{Shape(outputGrad)}].");
        // Conv1d as Conv2d of height 1.
        var x = dims == 1 ? input.unsqueeze(2) : input;
        var g = dims == 1 ? outputGrad.unsqueeze(2) : outputGrad;
        long[] kernel = Two(conv.kernel_size), stride = Two(conv.stride!), dilation = Two(conv.dilation!);
        x = Pad(conv, x, kernel, dilation);
        long b = x.shape[0], outH = g.shape[2], outW = g.shape[3], cOut = conv.out_channels;
        var patches = nn.functional.unfold(x, (kernel[0], kernel[1]), (dilation[0], dilation[1]), (0, 0), (stride[0], stride[1]));
        if (patches.shape[2] != outH * outW)
            throw new ArgumentException($"The convolution's output gradient has {outH}×{outW} positions; its input gives {patches.shape[2]}.");
        var positions = patches.transpose(1, 2);                       // [B, L, C_in·K], channel-major
        var grads = g.reshape(b, cOut, -1).transpose(1, 2);            // [B, L, C_out]
        long groups = conv.groups, inPer = positions.shape[2] / groups, outPer = cOut / groups;
        var result = new List<(Tensor, Tensor)>();
        for (long j = 0; j < groups; j++)
            result.Add((positions.narrow(2, j * inPer, inPer), grads.narrow(2, j * outPer, outPer)));
        return (result, conv.bias is null ? null : grads);
    }

    static Tensor Pad(Convolution conv, Tensor x, long[] kernel, long[] dilation)
    {
        long[] before = new long[2], after = new long[2];
        if (conv.padding_type == Padding.Same)
            for (int d = 0; d < 2; d++)
            {
                long total = dilation[d] * (kernel[d] - 1);
                (before[d], after[d]) = (total / 2, total - total / 2);   // the extra one at the end, as PyTorch pads
            }
        else if (conv.padding_type != Padding.Valid && conv.padding is { } p)
        {
            var two = conv.kernel_size!.Length == 1 ? new long[] { 0, p[0] } : Two(p);
            (before[0], before[1], after[0], after[1]) = (two[0], two[1], two[0], two[1]);
        }
        if (before.All(v => v == 0) && after.All(v => v == 0)) return x;
        var pads = new[] { before[1], after[1], before[0], after[0] };   // last dimension first
        return conv.padding_mode == PaddingModes.Zeros
            ? nn.functional.pad(x, pads, PaddingModes.Constant, 0)
            : nn.functional.pad(x, pads, conv.padding_mode);
    }

    static long[] Two(long[] v) => v.Length == 1 ? new[] { 1L, v[0] } : v;

    /// <summary>[B, …, d] as [B, T, d].</summary>
    internal static Tensor Positions(Tensor t) => t.reshape(t.shape[0], -1, t.shape[^1]);

    /// <summary>‖Σ_t g_t x_tᵀ‖² for each example of x [B, T, a] and g [B, T, b].</summary>
    internal static Tensor Outer(Tensor x, Tensor g)
    {
        long t = x.shape[1], a = x.shape[2], b = g.shape[2];
        if (t == 1) return x.Squared().sum(new long[] { 1, 2 }).mul(g.Squared().sum(new long[] { 1, 2 }));
        if (t * t <= a * b) return x.matmul(x.transpose(1, 2)).mul(g.matmul(g.transpose(1, 2))).sum(new long[] { 1, 2 });
        return g.transpose(1, 2).matmul(x).Squared().sum(new long[] { 1, 2 });
    }

    /// <summary>LayerNorm's x̂ of x [B, T, N]: over the last dimension, (x − mean) / √(biased variance + eps).</summary>
    internal static Tensor Normalized(Tensor x, double eps)
    {
        using var kept = KeptScalars.Rent();
        var centred = x.sub(x.mean(new long[] { 2 }, keepdim: true));
        return centred.mul(centred.Squared().mean(new long[] { 2 }, keepdim: true).add(kept[eps], ScalarCalls.One).rsqrt());
    }

    /// <summary>‖Σ_t g_t ⊙ a_t‖² for each example of a and g [B, T, N].</summary>
    internal static Tensor Elementwise(Tensor a, Tensor g) => g.mul(a).sum(new long[] { 1 }).Squared().sum(new long[] { 1 });

    /// <summary>‖Σ_t g_t‖² for each example of g [B, T, b].</summary>
    internal static Tensor SumOverPositions(Tensor g) => g.sum(new long[] { 1 }).Squared().sum(new long[] { 1 });

    static string Shape(Tensor t) => string.Join(", ", t.shape);
}
