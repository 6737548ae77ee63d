using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Examples;

/// <summary>A chart of training losses against the step, one smoothed line per run.</summary>
public static class LossCurves
{
    static readonly ScottPlot.LinePattern[] Patterns = { ScottPlot.LinePattern.Solid, ScottPlot.LinePattern.Dashed, ScottPlot.LinePattern.Dotted };

    /// <summary>
    /// Writes a PNG of each run's loss, as a moving average over <paramref name="window"/> steps (log10 of it with
    /// <paramref name="logScale"/>), with the run's name in the legend, which stands outside the data so that it hides
    /// no curve. Lines take turns being solid, dashed and dotted: two runs that follow the same path (two optimizers that
    /// both stall) stay visible as two.
    /// </summary>
    public static void Save(string path, string title, IEnumerable<(string Name, IReadOnlyList<double> Losses)> runs, int window, bool logScale = false)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var (name, losses) in runs)
        {
            var steps = Enumerable.Range(1, losses.Count).Select(s => (double)s).ToArray();
            var smoothed = Smoothing.MovingAverage(losses, window);
            if (logScale) smoothed = smoothed.Select(v => System.Math.Log10(System.Math.Max(v, 1e-6))).ToArray();
            var line = plot.Add.Scatter(steps, smoothed);
            line.LegendText = name;
            line.MarkerSize = 0;
            line.Color = palette.GetColor(i);
            // Broken lines drawn wider, so that one lying on a solid line still shows its colour between the gaps.
            line.LinePattern = Patterns[i % Patterns.Length];
            line.LineWidth = 1.5f + i % Patterns.Length;
            i++;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel($"{(logScale ? "log10 " : "")}training loss (moving average of {window} steps)");
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(path, 1100, 600);
    }
}
