namespace OptDsl.Runtime.Core;

/// <summary>An optimizer that knows how much device memory its state takes.</summary>
public interface IStateMemory
{
    /// <summary>
    /// Bytes of optimizer state on the device for all its parameters: the state tensors as allocated, or — before a
    /// parameter's first step — as they will be allocated under the current options. Per-tensor scalars kept on the host
    /// are not counted.
    /// </summary>
    long StateBytes { get; }
}
