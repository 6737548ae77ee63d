using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Xunit;

namespace OptDsl.Tests.Shared;

/// <summary>
/// A small snapshot helper (Verify.Xunit cannot be restored here: its Verify dependency is missing from the package
/// registry copy). Each snapshot is one plain file, <c>Snapshots/NAME.verified.txt</c>, reviewed in diffs. On a
/// mismatch the new text is written beside it as <c>NAME.received.txt</c>; set OPTDSL_ACCEPT_SNAPSHOTS=1 to accept.
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string name, [CallerFilePath] string caller = "")
    {
        var folder = Path.Combine(Path.GetDirectoryName(caller)!, "Snapshots");
        var verified = Path.Combine(folder, name + ".verified.txt");
        var received = Path.Combine(folder, name + ".received.txt");
        actual = actual.Replace("\r\n", "\n").TrimStart('\uFEFF');
        Directory.CreateDirectory(folder);

        if (Environment.GetEnvironmentVariable("OPTDSL_ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }
        if (!File.Exists(verified))
        {
            File.WriteAllText(received, actual);
            Assert.Fail($"No snapshot '{name}' yet: review {received} and rename it to .verified.txt (or run with OPTDSL_ACCEPT_SNAPSHOTS=1).");
        }
        var expected = File.ReadAllText(verified).Replace("\r\n", "\n");
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }
        File.WriteAllText(received, actual);
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        int line = Enumerable.Range(0, Math.Min(expectedLines.Length, actualLines.Length)).FirstOrDefault(i => expectedLines[i] != actualLines[i], Math.Min(expectedLines.Length, actualLines.Length));
        Assert.Fail($"Snapshot '{name}' differs at line {line + 1}:\n  expected: {expectedLines.ElementAtOrDefault(line)}\n  actual:   {actualLines.ElementAtOrDefault(line)}\nThe new text is in {received}.");
    }
}
