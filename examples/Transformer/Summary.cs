using System.Globalization;
using System.Linq;
using System.Text;

namespace Transformer;

/// <summary>A run's outcome in a few lines; rounded so that it reads the same on any machine of the same build.</summary>
public static class Summary
{
    public static string Of(RunLog log)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(string.Format(c, "parameters: {0:N0}, {1:N0} of them in hidden matrices (Muon), the rest AdamW's; optimizer state {2:N0} bytes",
            log.Parameters, log.MuonParameters, log.StateBytes));
        text.AppendLine(string.Format(c, "training loss (mean of 20 steps): {0:F2} first, {1:F2} last", log.Losses.Take(20).Average(), Report.FinalLoss(log)));
        text.AppendLine(string.Format(c, "validation loss: {0}", string.Join(", ", log.Validation.Select(v => string.Format(c, "{0:F2} at step {1}", v[1], (int)v[0])))));
        return text.ToString();
    }

    /// <summary>The step's timing, which no snapshot holds.</summary>
    public static string Timing(RunLog log) => string.Format(CultureInfo.InvariantCulture,
        "step {0:F1} ms (optimizer {1:F2} ms, {2:P0}), {3:N0} tokens/s", log.StepMs, log.OptimizerMs, log.OptimizerShare, log.TokensPerSecond);
}
