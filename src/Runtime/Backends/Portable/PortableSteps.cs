using System.Collections.Generic;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The declaration's update of the step's parameter <paramref name="index"/> as steps that yield whole-tensor requests,
/// which the portable backend answers across tensors; the core binds the parameter's options and state.
/// </summary>
internal delegate IEnumerable<WholeTensorRequest> PortableSteps(int index, Tensor p, Tensor g);
