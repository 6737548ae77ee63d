namespace OptDsl.Runtime.Core;

/// <summary>One declared per-tensor scalar state.</summary>
public sealed record ScalarStateSpec(string Name, double Initial);
