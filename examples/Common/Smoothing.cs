using System;
using System.Collections.Generic;

namespace OptDsl.Examples;

/// <summary>Smoothing for the examples' loss curves.</summary>
public static class Smoothing
{
    /// <summary>The mean of each value and the <paramref name="window"/> - 1 before it (fewer at the start).</summary>
    public static double[] MovingAverage(IReadOnlyList<double> values, int window)
    {
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
