using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace ScheduleComparison;

/// <summary>
/// One chart: each run's loss (moving average, solid, left axis) and its learning rate (dashed, right axis, from 0 to
/// just above the peak), one colour per schedule; the legend stands outside the data.
/// </summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Run> runs, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double highestLoss = 0, highestRate = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            var steps = Enumerable.Range(0, run.LearningRates.Count).Select(s => (double)s).ToArray();
            var smoothed = Smoothing.MovingAverage(run.Result.Losses, 25);
            var loss = plot.Add.Scatter(steps, smoothed);
            loss.LegendText = run.Name;
            loss.MarkerSize = 0;
            loss.LineWidth = 1.5f;
            loss.Color = palette.GetColor(i);
            var rate = plot.Add.Scatter(steps, run.LearningRates.ToArray());
            rate.MarkerSize = 0;
            rate.Color = palette.GetColor(i);
            rate.LinePattern = ScottPlot.LinePattern.Dashed;
            rate.Axes.YAxis = plot.Axes.Right;
            highestLoss = System.Math.Max(highestLoss, smoothed.Max());
            highestRate = System.Math.Max(highestRate, run.LearningRates.Max());
        }
        plot.Title("Spiral MLP, AdamW: three learning-rate schedules");
        plot.XLabel("step");
        plot.Axes.Left.Label.Text = "training loss (solid; moving average of 25 steps)";
        plot.Axes.Right.Label.Text = "learning rate (dashed)";
        // Both quantities start at zero or above: axes from 0, not the autoscaled margin below it (-0.0005).
        plot.Axes.SetLimitsY(0, highestLoss * 1.05, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, highestRate * 1.1, plot.Axes.Right);
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(path, 1100, 600);
    }
}
