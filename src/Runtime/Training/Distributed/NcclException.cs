using System;

namespace OptDsl.Runtime.Training.Distributed;

/// <summary>An NCCL call that returned an error.</summary>
public sealed class NcclException : Exception
{
    internal NcclException(string message, int result) : base(message) => Result = result;

    /// <summary>NCCL's result code.</summary>
    public int Result { get; }
}
