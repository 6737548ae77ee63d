using System.Collections.Generic;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>One route of a <see cref="RoutedOptimizer"/>: its name, the parameters it took and their optimizer.</summary>
/// <param name="Name">The route's name, as given.</param>
/// <param name="ParameterNames">The names of the parameters routed here, in model order.</param>
/// <param name="Optimizer">Their optimizer; null when no parameter was routed here (the factory is not called).</param>
public sealed record Route(string Name, IReadOnlyList<string> ParameterNames, optim.Optimizer? Optimizer);
