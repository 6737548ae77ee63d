using System;

namespace OptDsl.Examples;

/// <summary>
/// A one-line progress bar with the loss: redrawn in place on a terminal, printed every tenth of the run when the
/// output goes to a file or a CI log.
/// </summary>
public sealed class ProgressBar(int total, int width = 30)
{
    readonly bool _interactive = !Console.IsOutputRedirected;
    int _lastPrintedTenth = -1;

    public void Report(int step, double loss, double learningRate)
    {
        int filled = (int)((long)width * step / total);
        var line = $"[{new string('#', filled)}{new string('.', width - filled)}] {100 * step / total,3}%  step {step,4}/{total}  loss {loss:F4}  lr {learningRate.ToString("0.00e+0", System.Globalization.CultureInfo.InvariantCulture)}";
        if (_interactive)
        {
            Console.Write("\r" + line);
            if (step == total) Console.WriteLine();
            return;
        }
        int tenth = 10 * step / total;
        if (tenth == _lastPrintedTenth) return;
        _lastPrintedTenth = tenth;
        Console.WriteLine(line);
    }
}
