namespace OptDsl.Runtime.Backends;

/// <summary>
/// The update path between the core and a backend. At each step the core checks everything, gives each parameter to
/// the first backend of <see cref="UpdateBackends"/> that accepts it and can run here, readies the parameter's state,
/// and adds its <see cref="UpdateItem"/> to that backend; after the last parameter it runs every backend. A backend sees
/// tensors, host scalars and 8-bit storage — never the optimizer's options or state.
/// </summary>
internal interface IUpdateBackend
{
    /// <summary>Whether it runs the declaration's fused code; the one backend that does not is the portable update.</summary>
    bool Fused { get; }

    /// <summary>
    /// Whether it multiplies every gradient by the step's <see cref="GradientFactor"/> as it reads it; the core scales the
    /// gradients that other backends take in place first.
    /// </summary>
    bool ScalesGradients { get; }

    /// <summary>What it has done, for <c>FusedStatus</c> (how its code was built, or why it cannot run here), or null.</summary>
    string? Report { get; }

    /// <summary>
    /// Whether it can take the item: its tensors' device, type and layout, its state's storage. Asked when a gradient is
    /// first seen; the core remembers the answer until the parameter, its gradient or its state tensors change.
    /// </summary>
    bool Accepts(in UpdateItem item);

    /// <summary>
    /// Readies it for the item at this step (compiling or loading a kernel for the item's device and type): null when it
    /// can run the item, else why not — the core then gives the item to the portable backend, or throws where the fused
    /// update is required.
    /// </summary>
    string? Prepare(in UpdateItem item);

    /// <summary>Takes the item's update, to make now or at <see cref="Run"/>.</summary>
    void Add(in UpdateItem item);

    /// <summary>Makes every update added this step that is not made yet, in the order added.</summary>
    /// <param name="factor">The factor of every gradient, where <see cref="ScalesGradients"/>; unset for none.</param>
    void Run(GradientFactor factor);

    /// <summary>Forgets what was added and prepared this step; the core calls it after every step, made or failed.</summary>
    void EndStep();
}
