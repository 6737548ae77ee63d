using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace ZerothOrder;

/// <summary>The two runs' training losses (moving averages) against the step.</summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Run> runs, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            var steps = Enumerable.Range(1, runs[i].Losses.Count).Select(s => (double)s).ToArray();
            var line = plot.Add.Scatter(steps, Smoothing.MovingAverage(runs[i].Losses, 50));
            line.LegendText = runs[i].Name;
            line.MarkerSize = 0;
            line.Color = palette.GetColor(i);
        }
        plot.Title("Fine-tuning the spiral MLP to turned spirals: MeZO (forward only) and AdamW");
        plot.XLabel("step");
        plot.YLabel("training loss (moving average of 50 steps)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }
}
