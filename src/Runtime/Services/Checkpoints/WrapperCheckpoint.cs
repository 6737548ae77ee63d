using System;
using System.IO;

namespace OptDsl.Runtime.Services.Checkpoints;

/// <summary>
/// The step count of a type that wraps an optimizer and the checkpoint that keeps it, written once: the wrapper's tag,
/// its setup (which a load checks against its own), the step count, then its state (its inner optimizer's part, its
/// stages'...). A load reads and checks everything before it changes anything, and sets the step count with the rest.
/// </summary>
/// <param name="tag">What opens the wrapper's checkpoints (<see cref="CheckpointFile.ExpectTag"/> names it in messages).</param>
internal sealed class WrapperCheckpoint(string tag)
{
    /// <summary>The wrapper's step count.</summary>
    public long StepCount { get; set; }

    /// <summary>Saves the tag, the setup (<paramref name="writeSetup"/>), the step count and the state (<paramref name="writeState"/>).</summary>
    public void Save(string path, Action<BinaryWriter> writeSetup, Action<BinaryWriter> writeState) =>
        CheckpointFile.Write(path, writer => Write(writer, writeSetup, writeState));

    /// <summary>Writes the wrapper's part of a checkpoint (a routed optimizer inside a composed one writes its part so).</summary>
    public void Write(BinaryWriter writer, Action<BinaryWriter> writeSetup, Action<BinaryWriter> writeState)
    {
        writer.Write(tag);
        writeSetup(writer);
        writer.Write(StepCount);
        writeState(writer);
    }

    /// <summary>
    /// Loads a checkpoint of <see cref="Save"/>: <paramref name="checkSetup"/> reads the setup and throws where it is not
    /// this wrapper's; <paramref name="stageState"/> reads and checks the state (with the step count read, which it
    /// checks too) and returns what puts it in place.
    /// </summary>
    public void Load(string path, Action<BinaryReader> checkSetup, Func<BinaryReader, long, Action> stageState) =>
        CheckpointFile.Load(path, reader => Stage(reader, path, checkSetup, stageState));

    /// <summary>Reads and checks the wrapper's part of a checkpoint; returns what puts it, and the step count, in place.</summary>
    public Action Stage(BinaryReader reader, string path, Action<BinaryReader> checkSetup, Func<BinaryReader, long, Action> stageState)
    {
        CheckpointFile.ExpectTag(reader.ReadString(), tag, path);
        checkSetup(reader);
        long stepCount = reader.ReadInt64();
        var commit = stageState(reader, stepCount);
        return () =>
        {
            commit();
            StepCount = stepCount;
        };
    }
}
