using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("OptDsl.Tests")]
