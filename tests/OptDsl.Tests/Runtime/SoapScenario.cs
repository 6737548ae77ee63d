using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.HandWritten;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// SOAP against what it is meant to be, without an eigensolver in the reference: when every gradient is
/// <c>U diag(c_t) Vᵀ</c> for fixed orthogonal U, V (with |c_t| descending, so the eigen order never changes), Shampoo's
/// factors are diagonal in U and V, SOAP's eigenbases are U and V (up to sign) however often they are refreshed, and
/// its step is Adam (eps outside √V, Adam's bias correction in the step size) on the coefficients, rotated back —
/// starting one step late, since the first step only measures. Vectors are not rotated: Adam on the elements.
/// </summary>
public static class SoapScenario
{
    public const int Steps = 8;
    // eps well above rounding: a rectangular gradient leaves directions whose coefficients are zero in exact arithmetic
    // and ~1e-16 after rotation; with eps = 1e-8 their ratio m/(√v + eps) would be ~1e-8 of noise per step.
    const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.95, Eps = 1e-4, Wd = 0.01;

    static Tensor Orthogonal(int n, int seed)
    {
        var a = torch.tensor(Enumerable.Range(0, n * n).Select(i => Math.Sin(seed * 7.3 + i * 1.7) + 0.1 * i / n).ToArray(), ScalarType.Float64).reshape(n, n);
        return linalg.qr(a).Q;
    }

    static readonly (long Rows, long Columns)[] Shapes = { (4, 6), (6, 3) };

    /// <summary>Coefficients of step t: distinct, descending magnitudes, varying over time.</summary>
    static Tensor Coefficients(int t, long rows, long columns)
    {
        var c = torch.zeros(rows, columns, ScalarType.Float64);
        long r = Math.Min(rows, columns);
        for (long i = 0; i < r; i++) c[i, i] = (r - i) * (1 + 0.2 * Math.Sin(t + 2.0 * i));
        return c;
    }

    static Tensor VectorGradient(int t) => torch.tensor(Enumerable.Range(0, 5).Select(i => Math.Cos(t * 1.3 + i)).ToArray(), ScalarType.Float64);

    /// <summary>
    /// The scenario: starting weights, gradient k at step t (<c>U diag(c_t) Vᵀ</c> for the matrices, plain for the vector),
    /// the bases U, and the expected weights after <see cref="Steps"/> steps — Adam on the coefficients from step 2 on.
    /// </summary>
    public static (Tensor[] Start, Func<int, int, Tensor> Gradient, Tensor[] U, Tensor[] Expected) Scenario()
    {
        using var kept = KeptScalars.Rent();
        var us = Shapes.Select((s, k) => Orthogonal((int)s.Rows, 10 + k)).ToArray();
        var vs = Shapes.Select((s, k) => Orthogonal((int)s.Columns, 20 + k)).ToArray();
        var start = Shapes.Select((s, k) => torch.linspace(-1, 1, s.Rows * s.Columns, ScalarType.Float64).reshape(s.Rows, s.Columns).mul(kept[(k + 1)]))
            .Append(torch.linspace(0.5, -0.5, 5, ScalarType.Float64)).ToArray();
        Tensor Gradient(int t, int k) => k < Shapes.Length
            ? us[k].matmul(Coefficients(t, Shapes[k].Rows, Shapes[k].Columns)).matmul(vs[k].t())
            : VectorGradient(t);

        var expected = start.Select(x => x.clone()).ToArray();
        var m = start.Select(x => torch.zeros_like(x)).ToArray();
        var v = start.Select(x => torch.zeros_like(x)).ToArray();
        for (int t = 2; t <= Steps; t++)
        {
            int k1 = t - 1;
            double stepSize = Lr * Math.Sqrt(1 - Math.Pow(Beta2, k1)) / (1 - Math.Pow(Beta1, k1));
            for (int k = 0; k < start.Length; k++)
            {
                var c = k < Shapes.Length ? Coefficients(t, Shapes[k].Rows, Shapes[k].Columns) : VectorGradient(t);
                m[k] = m[k].mul(kept[Beta1]).Plus(c.mul(kept[(1 - Beta1)]));
                v[k] = v[k].mul(kept[Beta2]).Plus(c.mul(kept[(1 - Beta2)]) * c);
                var n = m[k] / v[k].sqrt().add(kept[Eps], ScalarCalls.One);
                var direction = k < Shapes.Length ? us[k].matmul(n).matmul(vs[k].t()) : n;
                expected[k] = (expected[k] - direction.mul(kept[stepSize])).mul(kept[(1 - Lr * Wd)]);
            }
        }
        return (start, Gradient, us, expected);
    }

    /// <summary>SOAP with the scenario's settings over <paramref name="ps"/>, gradients from <paramref name="gradient"/>.</summary>
    public static void RunScenario(Parameter[] ps, Func<int, int, Tensor> gradient, Action<int>? afterStep = null)
    {
        using var soap = new Soap(ps, lr: Lr, beta1: Beta1, beta2: Beta2, shampooBeta: 0.9, eps: Eps, weightDecay: Wd, preconditionFrequency: 2);
        for (int t = 1; t <= Steps; t++)
        {
            using (torch.no_grad())
                for (int k = 0; k < ps.Length; k++) ps[k].grad = gradient(t, k).to(ps[k].dtype).to(ps[k].device);
            soap.step();
            afterStep?.Invoke(t);
        }
        LastBasis = soap.StateOf(ps[0])["ql"]!.cpu().to(ScalarType.Float64);
        LastVectorBasis = soap.StateOf(ps[^1])["ql"];
    }

    /// <summary>The first parameter's left basis and the last's (a vector: none) after the last <see cref="RunScenario"/>.</summary>
    public static Tensor? LastBasis, LastVectorBasis;
}
