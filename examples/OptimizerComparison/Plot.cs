using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace OptimizerComparison;

/// <summary>Every contender's training loss against the step, on a log scale.</summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Entry> entries, string path) =>
        LossCurves.Save(path, "The spiral MLP: the same budget of steps for each optimizer",
            entries.Select(e => (e.Name, e.Losses)), window: 25, logScale: true);
}
