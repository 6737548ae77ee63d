using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("OptDsl.Tests")]
[assembly: InternalsVisibleTo("OptDsl.GpuCheck")]
[assembly: InternalsVisibleTo("OptDsl.MultiGpuCheck")]
