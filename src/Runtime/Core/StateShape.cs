namespace OptDsl.Runtime.Core;

/// <summary>How many values a per-parameter state holds.</summary>
public enum StateShape
{
    /// <summary>One per element: shaped like the parameter.</summary>
    Elements,
    /// <summary>One per row of the matrix view: <c>[shape[0], 1, ...]</c>, broadcasting over the parameter.</summary>
    Rows,
    /// <summary>One per column of the matrix view: <c>[1, shape[1], ...]</c>.</summary>
    Columns,
}
