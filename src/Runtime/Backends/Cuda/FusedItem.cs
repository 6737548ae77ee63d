using OptDsl.Runtime.Core;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>One parameter for the fused kernel: the parameter, its gradient and its state.</summary>
internal readonly record struct FusedItem(Tensor P, Tensor G, DeclaredState State);
