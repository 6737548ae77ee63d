using System;
using System.Linq;

namespace OptDsl.Tests.Catalog;

/// <summary>MARS's corrected gradient in float64, as the tests write it out (Yuan et al. 2024, the authors' approximate form).</summary>
public static class MarsReference
{
    /// <summary>
    /// <c>c = g + γ·β/(1 − β)·(g − previous)</c>, divided by its Euclidean norm where that passes <paramref name="maxNorm"/>
    /// (counted in <paramref name="clipped"/>).
    /// </summary>
    public static double[] Corrected(double[] g, double[] previous, double gamma, double beta, double maxNorm, ref int clipped)
    {
        var c = g.Select((gi, i) => gi + gamma * (beta / (1 - beta)) * (gi - previous[i])).ToArray();
        double norm = Math.Sqrt(c.Sum(x => x * x));
        if (norm <= maxNorm) return c;
        clipped++;
        return c.Select(x => x * (maxNorm / norm)).ToArray();
    }
}
