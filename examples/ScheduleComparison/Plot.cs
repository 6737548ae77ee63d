using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace ScheduleComparison;

/// <summary>One chart: each run's loss (moving average, left axis) and its learning rate (dashed, right axis).</summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Run> runs, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            var steps = Enumerable.Range(0, run.LearningRates.Count).Select(s => (double)s).ToArray();
            var loss = plot.Add.Scatter(steps, Smoothing.MovingAverage(run.Result.Losses, 25));
            loss.LegendText = $"{run.Name}: loss";
            loss.MarkerSize = 0;
            loss.Color = palette.GetColor(i);
            var rate = plot.Add.Scatter(steps, run.LearningRates.ToArray());
            rate.LegendText = $"{run.Name}: learning rate";
            rate.MarkerSize = 0;
            rate.Color = palette.GetColor(i);
            rate.LinePattern = ScottPlot.LinePattern.Dashed;
            rate.Axes.YAxis = plot.Axes.Right;
        }
        plot.Title("Spiral MLP, AdamW: three learning-rate schedules");
        plot.XLabel("step");
        plot.Axes.Left.Label.Text = "training loss (moving average of 25 steps)";
        plot.Axes.Right.Label.Text = "learning rate (dashed)";
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }
}
