using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using OptDsl.Examples;

namespace Transformer;

/// <summary>Runs side by side: a table of the timing and the losses, and their loss curves as a PNG.</summary>
public static class Report
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNameCaseInsensitive = true };

    public static void Save(RunLog log, string path) => File.WriteAllText(path, JsonSerializer.Serialize(log, Json));

    public static RunLog Load(string path) =>
        JsonSerializer.Deserialize<RunLog>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} holds no run log.");

    /// <summary>The mean of the last <paramref name="count"/> training losses: one step's loss is noisy.</summary>
    public static double FinalLoss(RunLog log, int count = 20) => log.Losses.TakeLast(Math.Min(count, log.Losses.Count)).Average();

    public static string Table(IReadOnlyList<RunLog> logs)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine("run              step (ms)  optimizer (ms)  share  tokens/s   train loss (last 20)  validation loss");
        foreach (var log in logs)
            text.AppendLine(string.Format(c, "{0,-16} {1,9:F1}  {2,14:F2}  {3,4:P0}  {4,9:N0}  {5,20:F3}  {6,15:F3}",
                log.Framework, log.StepMs, log.OptimizerMs, log.OptimizerShare, log.TokensPerSecond, FinalLoss(log), log.Validation[^1][1]));
        text.AppendLine();
        text.Append("validation loss at step:").AppendLine(string.Concat(logs[0].Validation.Select(v => string.Format(c, "{0,8}", (int)v[0]))));
        foreach (var log in logs)
            text.Append(string.Format(c, "{0,-24}", log.Framework)).AppendLine(string.Concat(log.Validation.Select(v => string.Format(c, "{0,8:F3}", v[1]))));
        return text.ToString();
    }

    public static void Plot(IReadOnlyList<RunLog> logs, string png) =>
        LossCurves.Save(png, $"{logs[0].Model} GPT on bytes: Muon + AdamW, WSD, clip 1.0", logs.Select(l => (l.Framework, (IReadOnlyList<double>)l.Losses)), window: 10);
}
