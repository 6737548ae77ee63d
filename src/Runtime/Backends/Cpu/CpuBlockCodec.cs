using System;
using System.Linq;
using OptDsl.Runtime.Backends.Quantized;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// <see cref="BlockQuantizer"/>'s 8-bit codec over one chunk of a CPU tensor, for the fused CPU loop: the chunk's
/// codes are expanded into a float32 scratch buffer before the element code runs and packed back after the last phase.
/// The same arithmetic as the portable codec and the CUDA kernel (x · (1/absmax) in float32, the nearest code by
/// <see cref="CodeTable"/>, the map's value times |absmax|), so all three choose the same codes for the same values.
/// A chunk starts at a block's start (chunks are whole blocks but for a tensor's last), so its codes and block scales
/// are its own.
/// </summary>
internal static class CpuBlockCodec
{
    const int Block = BlockQuantizer.BlockSize;
    static readonly float[] Signed = BlockQuantizer.Map(signed: true).ToArray(), Unsigned = BlockQuantizer.Map(signed: false).ToArray();

    /// <summary>The values the chunk's <paramref name="codes"/> and block <paramref name="scales"/> stand for, into <paramref name="into"/>.</summary>
    public static void Expand(ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales, Span<float> into)
    {
        for (int start = 0; start < into.Length; start += Block)
        {
            int end = Math.Min(start + Block, into.Length);
            float scale = scales[start / Block], magnitude = Math.Abs(scale);
            // A negative scale marks the signed map, whose 255 values an unsigned code may overrun (harmlessly clamped).
            if (scale < 0f)
                for (int e = start; e < end; e++) into[e] = Signed[Math.Min((int)codes[e], Signed.Length - 1)] * magnitude;
            else
                for (int e = start; e < end; e++) into[e] = Unsigned[codes[e]] * magnitude;
        }
    }

    /// <summary>Packs the chunk's values <paramref name="from"/> into its <paramref name="codes"/> and block <paramref name="scales"/>.</summary>
    public static void Pack(ReadOnlySpan<float> from, Span<byte> codes, Span<float> scales)
    {
        for (int start = 0; start < from.Length; start += Block)
        {
            int end = Math.Min(start + Block, from.Length);
            float largest = 0f;
            bool signed = false;
            for (int e = start; e < end; e++)
            {
                float x = from[e];
                float magnitude = Math.Abs(x);
                // NaN wins, as torch's amax: the block then comes back as NaN.
                largest = float.IsNaN(magnitude) || float.IsNaN(largest) ? float.NaN : Math.Max(largest, magnitude);
                signed |= x < 0f;
            }
            bool finite = float.IsFinite(largest);
            float reciprocal = finite && largest > 0f ? 1f / largest : 1f;
            // CodeTable.Nearest with the block's tables fetched once: the bucket's count of midpoints below, then one comparison.
            var mid = CodeTable.Midpoints(signed);
            var below = CodeTable.Starts(signed);
            for (int e = start; e < end; e++)
            {
                float x = from[e] * reciprocal;
                int code = below[CodeTable.Key(x)];
                codes[e] = (byte)(code < mid.Length && mid[code] < x ? code + 1 : code);
            }
            scales[start / Block] = finite ? (signed ? -largest : largest) : float.NaN;
        }
    }
}
