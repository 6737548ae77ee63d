using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// The line search of torch.optim.LBFGS's <c>line_search_fn="strong_wolfe"</c> (which follows minFunc's WolfeLineSearch
/// through torch7's lswolfe.lua; Nocedal and Wright, "Numerical Optimization", 2nd ed., Algorithms 3.5 and 3.6), kept
/// step for step, comparisons included: from step t along d it brackets a step satisfying the strong Wolfe conditions
/// <c>f(t) ≤ f(0) + c₁·t·f′(0)</c> and <c>|f′(t)| ≤ −c₂·f′(0)</c>, extrapolating by the minimum of a cubic, then zooms
/// into the bracket by cubic interpolation kept a tenth of the bracket away from its ends when progress stalls.
/// </summary>
/// <remarks>
/// The scalars (losses, directional derivatives, steps) are doubles read from the tensors, as libtorch's C++ LBFGS
/// reads them; torch.optim's Python keeps some in tensors of the parameters' dtype, so float32 runs may differ from it
/// in the last bits of a trial step. Float64 runs take the same steps.
/// </remarks>
internal static class StrongWolfe
{
    /// <summary>The accepted step: its loss, gradient (owned by the caller now), length and the evaluations spent.</summary>
    public readonly record struct Result(double Loss, Tensor Gradient, double Step, int Evaluations);

    /// <summary>
    /// Searches along <paramref name="d"/> from the point where the loss is <paramref name="f"/>, the gradient
    /// <paramref name="g"/> (left to the caller) and the directional derivative <paramref name="gtd"/> (negative).
    /// <paramref name="evaluate"/> gives the loss and a new gradient tensor at step t (the search frees those it does
    /// not return). After the first evaluation at t the search makes at most <paramref name="maxIterations"/> more (its
    /// iterations, torch.optim's <c>max_ls</c>); when extrapolating uses them all, the bracket is [0, t] and no zoom follows.
    /// </summary>
    public static Result Search(Func<double, (double Loss, Tensor Gradient)> evaluate, double t, Tensor d, double f, Tensor g, double gtd,
        int maxIterations, double c1 = 1e-4, double c2 = 0.9, double toleranceChange = 1e-9)
    {
        var owned = new List<Tensor>();
        try
        {
            double dNorm = Lbfgs.MaxAbs(d);
            g = Own(owned, g.clone());
            var (fNew, gNew) = evaluate(t);
            Own(owned, gNew);
            int evaluations = 1;
            double gtdNew = Lbfgs.Dot(gNew, d);

            // Bracketing: grow the step until it overshoots (the sufficient decrease fails, the loss rises, or the slope
            // turns non-negative) or meets both conditions.
            double tPrev = 0, fPrev = f, gtdPrev = gtd;
            var gPrev = g;
            bool done = false;
            int iterations = 0;
            var bracket = new double[2];
            var bracketF = new double[2];
            var bracketG = new Tensor[2];
            var bracketGtd = new double[2];
            void Bracket(double a, double fa, Tensor ga, double gtda, double b, double fb, Tensor gb, double gtdb) =>
                (bracket[0], bracketF[0], bracketG[0], bracketGtd[0], bracket[1], bracketF[1], bracketG[1], bracketGtd[1]) = (a, fa, ga, gtda, b, fb, gb, gtdb);
            while (iterations < maxIterations)
            {
                if (fNew > f + c1 * t * gtd || (iterations > 1 && fNew >= fPrev))
                {
                    Bracket(tPrev, fPrev, gPrev, gtdPrev, t, fNew, gNew, gtdNew);
                    break;
                }
                if (Math.Abs(gtdNew) <= -c2 * gtd)
                {
                    Bracket(t, fNew, gNew, gtdNew, t, fNew, gNew, gtdNew);
                    done = true;
                    break;
                }
                if (gtdNew >= 0)
                {
                    Bracket(tPrev, fPrev, gPrev, gtdPrev, t, fNew, gNew, gtdNew);
                    break;
                }
                double grown = CubicMinimum(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, t + 0.01 * (t - tPrev), t * 10);
                (tPrev, fPrev, gPrev, gtdPrev) = (t, fNew, gNew, gtdNew);
                t = grown;
                (fNew, gNew) = evaluate(t);
                Own(owned, gNew);
                evaluations++;
                gtdNew = Lbfgs.Dot(gNew, d);
                iterations++;
                Release(owned, g, gPrev, gNew);
            }
            if (iterations == maxIterations) Bracket(0, f, g, double.NaN, t, fNew, gNew, double.NaN);

            // Zoom: shrink the bracket around the lower end until a step meets both conditions or the bracket is tiny.
            bool stalled = false;
            var (low, high) = bracketF[0] <= bracketF[1] ? (0, 1) : (1, 0);
            while (!done && iterations < maxIterations)
            {
                if (Math.Abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
                t = CubicMinimum(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
                double top = Larger(bracket[0], bracket[1]), bottom = Smaller(bracket[0], bracket[1]);
                double margin = 0.1 * (top - bottom);
                if (Smaller(top - t, t - bottom) < margin)
                {
                    // Near an end: accept once; twice in a row, or outside the bracket, move a tenth inside.
                    if (stalled || t >= top || t <= bottom)
                    {
                        t = Math.Abs(t - top) < Math.Abs(t - bottom) ? top - margin : bottom + margin;
                        stalled = false;
                    }
                    else stalled = true;
                }
                else stalled = false;

                (fNew, gNew) = evaluate(t);
                Own(owned, gNew);
                evaluations++;
                gtdNew = Lbfgs.Dot(gNew, d);
                iterations++;

                if (fNew > f + c1 * t * gtd || fNew >= bracketF[low])
                {
                    (bracket[high], bracketF[high], bracketG[high], bracketGtd[high]) = (t, fNew, gNew, gtdNew);
                    (low, high) = bracketF[0] <= bracketF[1] ? (0, 1) : (1, 0);
                }
                else
                {
                    if (Math.Abs(gtdNew) <= -c2 * gtd) done = true;
                    else if (gtdNew * (bracket[high] - bracket[low]) >= 0)
                        (bracket[high], bracketF[high], bracketG[high], bracketGtd[high]) = (bracket[low], bracketF[low], bracketG[low], bracketGtd[low]);
                    (bracket[low], bracketF[low], bracketG[low], bracketGtd[low]) = (t, fNew, gNew, gtdNew);
                }
                Release(owned, g, bracketG[0], bracketG[1]);
            }

            var gradient = bracketG[low];
            owned.RemoveAll(o => ReferenceEquals(o, gradient));
            return new Result(bracketF[low], gradient, bracket[low], evaluations);
        }
        finally
        {
            foreach (var t2 in owned) t2.Dispose();
        }
    }

    static Tensor Own(List<Tensor> owned, Tensor t)
    {
        if (!owned.Any(o => ReferenceEquals(o, t))) owned.Add(t);
        return t;
    }

    /// <summary>Frees the owned gradients no longer referenced (all but <paramref name="live"/>).</summary>
    static void Release(List<Tensor> owned, params Tensor[] live)
    {
        for (int i = owned.Count - 1; i >= 0; i--)
            if (!live.Any(l => ReferenceEquals(l, owned[i])))
            {
                owned[i].Dispose();
                owned.RemoveAt(i);
            }
    }

    /// <summary>Python's <c>max(a, b)</c>: a unless b is larger (so NaN behaves as it does there).</summary>
    static double Larger(double a, double b) => b > a ? b : a;

    /// <summary>Python's <c>min(a, b)</c>: a unless b is smaller.</summary>
    static double Smaller(double a, double b) => b < a ? b : a;

    /// <summary>
    /// The minimiser of the cubic through (x₁, f₁) and (x₂, f₂) with slopes g₁ and g₂, clamped to [low, high] (by default
    /// the interval between the points); the interval's midpoint where the cubic has no minimum (Nocedal and Wright, eq. 3.59).
    /// </summary>
    internal static double CubicMinimum(double x1, double f1, double g1, double x2, double f2, double g2, double? low = null, double? high = null)
    {
        double bottom = low ?? (x1 <= x2 ? x1 : x2), top = high ?? (x1 <= x2 ? x2 : x1);
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double discriminant = d1 * d1 - g1 * g2;
        if (!(discriminant >= 0)) return (bottom + top) / 2.0;
        double d2 = Math.Sqrt(discriminant);
        double minimum = x1 <= x2
            ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        return Smaller(Larger(minimum, bottom), top);
    }
}
