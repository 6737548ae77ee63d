using System;
using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// torch.optim.LBFGS's step written out again in float64 on plain arrays, for the tests: the two-loop recursion
/// (Nocedal and Wright, Algorithm 7.4), the history of at most <see cref="HistorySize"/> pairs, the stopping rules, and
/// the strong-Wolfe search with its cubic steps and zoom (torch/optim/lbfgs.py of PyTorch 2.11, <c>_strong_wolfe</c>,
/// given the evaluations left of max_eval). It shares no code
/// with <c>Lbfgs</c>. It counts the branches it takes, so that a test can show that its scenario reaches them.
/// </summary>
public sealed class LbfgsReference
{
    public double Lr = 1, ToleranceGrad = 1e-7, ToleranceChange = 1e-9;
    public int MaxIter = 20, HistorySize = 100;
    public int? MaxEval;
    public bool StrongWolfe;

    // The state torch.optim keeps.
    public int FuncEvals, NIter;
    double[]? _d, _prevFlatGrad;
    double _t, _hDiag = 1, _prevLoss;
    readonly List<double[]> _oldDirs = new(), _oldStps = new();
    readonly List<double> _ro = new();

    // What the runs went through.
    public int PairsKept, PairsSkipped, PairsDropped, Extrapolations, ZoomSteps, MovedInside, SearchesCapped, BracketsTooSmall, EarlyOptimal;

    public int HistoryLength => _oldDirs.Count;

    static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    static double MaxAbs(double[] a) => a.Max(Math.Abs);

    /// <summary>x + t·d, a new array.</summary>
    static double[] Along(double[] x, double t, double[] d) => x.Select((v, i) => v + t * d[i]).ToArray();

    /// <summary>One step from <paramref name="x"/> (updated in place); returns the first evaluation's loss.</summary>
    public double Step(double[] x, Func<double[], (double F, double[] G)> objective)
    {
        int maxEval = MaxEval ?? MaxIter * 5 / 4;
        var (loss, g) = objective(x);
        double firstLoss = loss;
        int currentEvals = 1;
        FuncEvals++;
        bool optCond = MaxAbs(g) <= ToleranceGrad;
        if (optCond)
        {
            EarlyOptimal++;
            return firstLoss;
        }

        int nIter = 0;
        while (nIter < MaxIter)
        {
            nIter++;
            NIter++;
            if (NIter == 1)
            {
                _d = g.Select(v => -v).ToArray();
                _oldDirs.Clear();
                _oldStps.Clear();
                _ro.Clear();
                _hDiag = 1;
            }
            else
            {
                var y = g.Select((v, i) => v - _prevFlatGrad![i]).ToArray();
                var s = _d!.Select(v => v * _t).ToArray();
                double ys = Dot(y, s);
                if (ys > 1e-10)
                {
                    if (_oldDirs.Count == HistorySize)
                    {
                        _oldDirs.RemoveAt(0);
                        _oldStps.RemoveAt(0);
                        _ro.RemoveAt(0);
                        PairsDropped++;
                    }
                    _oldDirs.Add(y);
                    _oldStps.Add(s);
                    _ro.Add(1.0 / ys);
                    _hDiag = ys / Dot(y, y);
                    PairsKept++;
                }
                else PairsSkipped++;

                int k = _oldDirs.Count;
                var al = new double[k];
                var q = g.Select(v => -v).ToArray();
                for (int i = k - 1; i >= 0; i--)
                {
                    al[i] = Dot(_oldStps[i], q) * _ro[i];
                    for (int j = 0; j < q.Length; j++) q[j] -= al[i] * _oldDirs[i][j];
                }
                var r = q.Select(v => v * _hDiag).ToArray();
                for (int i = 0; i < k; i++)
                {
                    double be = Dot(_oldDirs[i], r) * _ro[i];
                    for (int j = 0; j < r.Length; j++) r[j] += (al[i] - be) * _oldStps[i][j];
                }
                _d = r;
            }
            _prevFlatGrad = (double[])g.Clone();
            _prevLoss = loss;

            if (NIter == 1)
            {
                double sum = g.Sum(Math.Abs);
                _t = Math.Min(1.0, 1.0 / sum) * Lr;
            }
            else _t = Lr;

            double gtd = Dot(g, _d);
            if (gtd > -ToleranceChange) break;

            int lsEvals;
            if (StrongWolfe)
            {
                var start = (double[])x.Clone();
                (loss, g, _t, lsEvals) = Search(p => objective(p), start, _t, _d, loss, g, gtd, maxEval - currentEvals);
                Array.Copy(Along(start, _t, _d), x, x.Length);
                optCond = MaxAbs(g) <= ToleranceGrad;
            }
            else
            {
                Array.Copy(Along(x, _t, _d), x, x.Length);
                lsEvals = 0;
                if (nIter != MaxIter)
                {
                    (loss, g) = objective(x);
                    optCond = MaxAbs(g) <= ToleranceGrad;
                    lsEvals = 1;
                }
            }
            currentEvals += lsEvals;
            FuncEvals += lsEvals;

            if (nIter == MaxIter) break;
            if (currentEvals >= maxEval) break;
            if (optCond) break;
            if (_d.Max(v => Math.Abs(v * _t)) <= ToleranceChange) break;
            if (Math.Abs(loss - _prevLoss) < ToleranceChange) break;
        }
        return firstLoss;
    }

    /// <summary>The cubic's minimiser between two points with values and slopes, kept within the bounds.</summary>
    static double Cubic(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi)
    {
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2Square = d1 * d1 - g1 * g2;
        if (d2Square >= 0)
        {
            double d2 = Math.Sqrt(d2Square);
            double minPos = x1 <= x2
                ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
            return Math.Min(Math.Max(minPos, lo), hi);
        }
        return (lo + hi) / 2.0;
    }

    (double F, double[] G, double T, int Evals) Search(Func<double[], (double, double[])> objective, double[] x, double t, double[] d,
        double f, double[] g, double gtd, int maxLs)
    {
        const double c1 = 1e-4, c2 = 0.9, toleranceChange = 1e-9;
        double dNorm = MaxAbs(d);
        var (fNew, gNew) = objective(Along(x, t, d));
        int evals = 1;
        double gtdNew = Dot(gNew, d);
        double tPrev = 0, fPrev = f, gtdPrev = gtd;
        var gPrev = g;
        bool done = false;
        int lsIter = 0;
        double[] br = new double[2], brF = new double[2], brGtd = new double[2];
        var brG = new double[2][];
        while (lsIter < maxLs)
        {
            if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev))
            {
                (br[0], br[1], brF[0], brF[1], brG[0], brG[1], brGtd[0], brGtd[1]) = (tPrev, t, fPrev, fNew, gPrev, gNew, gtdPrev, gtdNew);
                break;
            }
            if (Math.Abs(gtdNew) <= -c2 * gtd)
            {
                (br[0], br[1], brF[0], brF[1], brG[0], brG[1]) = (t, t, fNew, fNew, gNew, gNew);
                done = true;
                break;
            }
            if (gtdNew >= 0)
            {
                (br[0], br[1], brF[0], brF[1], brG[0], brG[1], brGtd[0], brGtd[1]) = (tPrev, t, fPrev, fNew, gPrev, gNew, gtdPrev, gtdNew);
                break;
            }
            Extrapolations++;
            double minStep = t + 0.01 * (t - tPrev), maxStep = t * 10;
            double tmp = t;
            t = Cubic(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, minStep, maxStep);
            (tPrev, fPrev, gPrev, gtdPrev) = (tmp, fNew, gNew, gtdNew);
            (fNew, gNew) = objective(Along(x, t, d));
            evals++;
            gtdNew = Dot(gNew, d);
            lsIter++;
        }
        if (lsIter == maxLs)
        {
            SearchesCapped++;
            (br[0], br[1], brF[0], brF[1], brG[0], brG[1]) = (0, t, f, fNew, g, gNew);
        }

        bool insufProgress = false;
        int low = brF[0] <= brF[1] ? 0 : 1, high = 1 - low;
        while (!done && lsIter < maxLs)
        {
            if (Math.Abs(br[1] - br[0]) * dNorm < toleranceChange)
            {
                BracketsTooSmall++;
                break;
            }
            t = Cubic(br[0], brF[0], brGtd[0], br[1], brF[1], brGtd[1], Math.Min(br[0], br[1]), Math.Max(br[0], br[1]));
            double hi = Math.Max(br[0], br[1]), lo = Math.Min(br[0], br[1]);
            double eps = 0.1 * (hi - lo);
            if (Math.Min(hi - t, t - lo) < eps)
            {
                if (insufProgress || t >= hi || t <= lo)
                {
                    t = Math.Abs(t - hi) < Math.Abs(t - lo) ? hi - eps : lo + eps;
                    insufProgress = false;
                    MovedInside++;
                }
                else insufProgress = true;
            }
            else insufProgress = false;

            ZoomSteps++;
            (fNew, gNew) = objective(Along(x, t, d));
            evals++;
            gtdNew = Dot(gNew, d);
            lsIter++;
            if (fNew > f + c1 * t * gtd || fNew >= brF[low])
            {
                (br[high], brF[high], brG[high], brGtd[high]) = (t, fNew, gNew, gtdNew);
                low = brF[0] <= brF[1] ? 0 : 1;
                high = 1 - low;
            }
            else
            {
                if (Math.Abs(gtdNew) <= -c2 * gtd) done = true;
                else if (gtdNew * (br[high] - br[low]) >= 0)
                    (br[high], brF[high], brG[high], brGtd[high]) = (br[low], brF[low], brG[low], brGtd[low]);
                (br[low], brF[low], brG[low], brGtd[low]) = (t, fNew, gNew, gtdNew);
            }
        }
        return (brF[low], brG[low], br[low], evals);
    }
}
