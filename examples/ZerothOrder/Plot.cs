using System.Collections.Generic;
using System.Linq;
using OptDsl.Examples;

namespace ZerothOrder;

/// <summary>The two runs' training losses against the step.</summary>
public static class Plot
{
    public static void Save(IReadOnlyList<Run> runs, string path) =>
        LossCurves.Save(path, "Fine-tuning the spiral MLP to turned spirals: MeZO (forward only) and AdamW",
            runs.Select(r => (r.Name, r.Losses)), window: 50);
}
