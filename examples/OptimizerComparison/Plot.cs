using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace OptimizerComparison;

/// <summary>Every contender's training loss (moving average) against the step, on a log scale.</summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Entry> entries, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < entries.Count; i++)
        {
            var steps = Enumerable.Range(1, entries[i].Losses.Count).Select(s => (double)s).ToArray();
            var smoothed = Smoothing.MovingAverage(entries[i].Losses, 25).Select(v => System.Math.Log10(System.Math.Max(v, 1e-6))).ToArray();
            var line = plot.Add.Scatter(steps, smoothed);
            line.LegendText = entries[i].Name;
            line.MarkerSize = 0;
            line.Color = palette.GetColor(i);
        }
        plot.Title("The spiral MLP: the same budget of steps for each optimizer");
        plot.XLabel("step");
        plot.YLabel("log10 training loss (moving average of 25 steps)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }
}
