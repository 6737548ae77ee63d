namespace OptDsl.Runtime.Training.Distributed;

/// <summary>How a collective combines the ranks' values.</summary>
public enum ReduceOp
{
    /// <summary>The sum over ranks.</summary>
    Sum,
    /// <summary>The sum over ranks divided by the number of ranks.</summary>
    Average,
    /// <summary>The largest value over ranks.</summary>
    Max,
}
