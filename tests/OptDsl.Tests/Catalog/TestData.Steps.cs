using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

// The test project's part of TestData (the GPU check links TestData.cs alone, without xunit).
public static partial class TestData
{
    /// <summary>Steps <paramref name="optimizer"/> <paramref name="steps"/> times, each after setting step t's gradients (t from 1).</summary>
    public static void Run(Parameter[] parameters, torch.optim.Optimizer optimizer, int steps)
    {
        for (int t = 1; t <= steps; t++)
        {
            SetGradients(parameters, t);
            optimizer.step();
        }
    }

    /// <summary>
    /// Asserts each parameter within <paramref name="tolerance"/> of <paramref name="expected"/> (its flattened float64
    /// reference), relative to the reference's largest magnitude where that passes 1.
    /// </summary>
    public static void AssertClose(Parameter[] parameters, double[][] expected, double tolerance)
    {
        for (int k = 0; k < parameters.Length; k++)
        {
            var ours = parameters[k].to(ScalarType.Float64).flatten().data<double>().ToArray();
            double error = ours.Zip(expected[k], (x, y) => System.Math.Abs(x - y)).Max();
            Xunit.Assert.True(error <= tolerance * System.Math.Max(1, expected[k].Max(System.Math.Abs)), $"tensor {k}: off by {error:E2}");
        }
    }
}
