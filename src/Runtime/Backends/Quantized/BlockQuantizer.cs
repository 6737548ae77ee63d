using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Quantized;

/// <summary>
/// Blockwise 8-bit quantization of optimizer state with a dynamic-exponent map: the map spends its codes on decades of
/// magnitude — the largest decade (0.1, 1] finely, each smaller one with half as many points — so values far below their
/// block's absmax keep their order of magnitude instead of rounding to zero, which a linear map would do to a second
/// moment. The signed map (for first moments) has 127 magnitudes over 7 decades (64, 32, ... 1 points), their negatives
/// and 0, down to 10⁻⁶ of the block's absmax; the unsigned map (second moments) 255 magnitudes over 8 decades and 0,
/// down to 10⁻⁷. Both hold 0 and 1 exactly, so zeros and each block's largest element come back exactly; smaller values
/// round to the nearest map value (or to 0). <see cref="MaxError"/> states the bound the round trip keeps. Each block
/// picks its map: the unsigned one where it holds no negative value, the signed one otherwise (marked by the sign of
/// its stored absmax), so no caller needs to know a state's sign. A block holding NaN or infinity comes back as NaN.
/// </summary>
public static class BlockQuantizer
{
    /// <summary>Elements per block: each has its own scale.</summary>
    public const int BlockSize = 256;

    static readonly float[] _signed = Build(signed: true), _unsigned = Build(signed: false);

    /// <summary>The map's values, ascending (255 signed values, 256 unsigned).</summary>
    public static IReadOnlyList<float> Map(bool signed) => signed ? _signed : _unsigned;

    static float[] Build(bool signed)
    {
        int decades = signed ? 7 : 8;
        var magnitudes = new List<double>();
        for (int k = 0; k < decades; k++)
        {
            int points = 1 << (decades - 1 - k);
            double scale = Math.Pow(10, -k);
            for (int j = 1; j <= points; j++) magnitudes.Add(scale * (0.1 + 0.9 * j / points));
        }
        var values = magnitudes.Select(m => (float)m).Append(0f);
        if (signed) values = values.Concat(magnitudes.Select(m => -(float)m));
        return values.Distinct().OrderBy(v => v).ToArray();
    }

    /// <summary>
    /// The largest error the round trip may make on an element whose value over its block's absmax is
    /// <paramref name="normalized"/>, in units of that absmax: half the gap between the two map values around it.
    /// </summary>
    public static double MaxError(bool signed, double normalized)
    {
        var map = Map(signed);
        int i = 0;
        while (i < map.Count - 1 && map[i + 1] < normalized) i++;
        if (i == map.Count - 1) return 0;
        return (map[i + 1] - map[i]) / 2.0;
    }

    /// <summary>Quantizes <paramref name="x"/> (any float type, any device), block by block.</summary>
    public static QuantizedTensor Quantize(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        var flat = x.detach().reshape(-1).to(ScalarType.Float32);
        long n = flat.NumberOfElements, blocks = (n + BlockSize - 1) / BlockSize;
        var padded = torch.zeros(blocks * BlockSize, ScalarType.Float32, flat.device);
        padded[..(int)n].copy_(flat);
        var rows = padded.reshape(blocks, BlockSize);
        var absmax = rows.abs().amax(new long[] { 1 });
        var finite = absmax.isfinite();
        var signed = rows.lt(kept[0]).any(1);
        // All-zero and non-finite blocks divide by 1 (their codes do not matter: 0, and NaN on the way back).
        // x · (1/absmax) rather than x / absmax: one division a block, as the fused kernel does it, so both give the same codes.
        var reciprocal = torch.where(finite.logical_and(absmax.gt(kept[0])), absmax, torch.ones_like(absmax)).reciprocal();
        var normalized = rows.mul(reciprocal.unsqueeze(1));
        var codes = torch.where(signed.unsqueeze(1), Nearest(normalized, true), Nearest(normalized, false)).to(ScalarType.Byte).reshape(-1)[..(int)n];
        var stored = torch.where(finite, torch.where(signed, absmax.neg(), absmax), torch.full_like(absmax, kept[double.NaN]));
        return new QuantizedTensor(codes.contiguous().MoveToOuterDisposeScope(), stored.contiguous().MoveToOuterDisposeScope(), (long[])x.shape.Clone());
    }

    /// <summary>The index of the nearest map value to each element of <paramref name="normalized"/>.</summary>
    static Tensor Nearest(Tensor normalized, bool signed)
    {
        var map = MapTensor(signed, normalized.device);
        using var kept = KeptScalars.Rent();
        var midpoints = map[1..].Plus(map[..^1]).mul(kept[0.5]);
        return torch.bucketize(normalized, midpoints).clamp_max(kept[map.NumberOfElements - 1]);
    }

    /// <summary>The float32 tensor <paramref name="q"/> stands for, on its device.</summary>
    public static Tensor Dequantize(QuantizedTensor q)
    {
        ArgumentNullException.ThrowIfNull(q);
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        long n = q.Codes.NumberOfElements;
        var codes = q.Codes.to(ScalarType.Int64);
        var absmax = q.Absmax.repeat_interleave(BlockSize)[..(int)n];
        // The signed map has 255 values: clamp its index so unsigned codes can be looked up there harmlessly.
        var signedValues = MapTensor(true, q.Codes.device).index_select(0, codes.clamp_max(kept[254]));
        var unsignedValues = MapTensor(false, q.Codes.device).index_select(0, codes);
        var values = torch.where(absmax.lt(kept[0]), signedValues, unsignedValues);
        return values.mul(absmax.abs()).reshape(q.Shape).MoveToOuterDisposeScope();
    }

    // The maps on each device they are used on, copied there once (not once per tensor and step: a blocking copy).
    static readonly Dictionary<(bool Signed, DeviceType Type, int Index), Tensor> _maps = new();

    static Tensor MapTensor(bool signed, Device device)
    {
        lock (_maps)
        {
            var key = (signed, device.type, device.index);
            if (!_maps.TryGetValue(key, out var map))
                _maps[key] = map = torch.tensor(signed ? _signed : _unsigned).to(device).DetachFromDisposeScope();
            return map;
        }
    }
}
