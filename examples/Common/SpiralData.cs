using System;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Examples;

/// <summary>Two interleaved noisy spirals in the plane, one per class: generated here, nothing to download.</summary>
public static class SpiralData
{
    /// <summary>
    /// <paramref name="count"/> points (half per class) and their labels, from a seeded generator; the spirals turned by
    /// <paramref name="rotation"/> radians (a related task to fine-tune on).
    /// </summary>
    public static (Tensor Points, Tensor Labels) Generate(int count, int seed, double rotation = 0)
    {
        var random = new Random(seed);
        var points = new float[count, 2];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 2;
            double radius = 0.1 + 0.9 * random.NextDouble();
            double angle = 3.5 * Math.PI * radius + label * Math.PI + rotation;
            points[i, 0] = (float)(radius * Math.Cos(angle) + 0.03 * Gaussian(random));
            points[i, 1] = (float)(radius * Math.Sin(angle) + 0.03 * Gaussian(random));
            labels[i] = label;
        }
        return (torch.tensor(points), torch.tensor(labels));
    }

    static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
