namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// What a declared optimizer and the types that wrap one (composed recipes, routes, DP-SGD) share: a count of the
/// updates made, and a checkpoint of everything they keep beyond the model's weights — one file, written atomically
/// with a checksum, read back only after all of it has been checked, the step count with it.
/// </summary>
public interface ICheckpointed
{
    /// <summary>Updates made; kept in checkpoints.</summary>
    long StepCount { get; }

    /// <summary>Saves the whole state, the step count included, to <paramref name="path"/>.</summary>
    void SaveCheckpoint(string path);

    /// <summary>
    /// Loads a checkpoint of <see cref="SaveCheckpoint"/>; a file of another setup, or a corrupt one, throws
    /// <see cref="System.IO.InvalidDataException"/> and leaves everything as it was.
    /// </summary>
    void LoadCheckpoint(string path);
}
