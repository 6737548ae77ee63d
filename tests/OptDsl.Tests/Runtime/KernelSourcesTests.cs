using System;
using System.Collections.Generic;
using System.IO;
using OptDsl.Runtime.Backends.Cuda;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>Kernel files come from the runtime assembly, or from the folder OPTDSL_KERNEL_SOURCES names where it has them.</summary>
public sealed class KernelSourcesTests
{
    [Fact]
    public void A_file_in_the_override_folder_replaces_the_embedded_one_and_the_others_stay_embedded()
    {
        var folder = Directory.CreateTempSubdirectory("optdsl-kernels-").FullName;
        try
        {
            // A name no embedded file has, so that kernels other tests compile meanwhile are not touched.
            File.WriteAllText(Path.Combine(folder, "override_probe.cu"), "#include \"optdsl_intrinsics.cuh\"\nint probe = @VALUE@;\n");
            Environment.SetEnvironmentVariable("OPTDSL_KERNEL_SOURCES", folder);
            var filled = KernelSources.Fill("override_probe.cu", new Dictionary<string, string> { ["VALUE"] = "42" });
            Assert.EndsWith("int probe = 42;", filled);
            // The include came from the assembly: the folder has no such file.
            Assert.StartsWith("// The device functions that generated element bodies", filled);
        }
        finally
        {
            Environment.SetEnvironmentVariable("OPTDSL_KERNEL_SOURCES", null);
            Directory.Delete(folder, recursive: true);
        }
    }
}
