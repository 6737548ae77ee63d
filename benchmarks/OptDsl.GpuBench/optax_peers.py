#!/usr/bin/env python3
"""optax's own implementations of catalog rules under jax.jit on GPT-2 small's parameter list, timed as
OptDsl.GpuBench times its own: wall time of windows of steps, the device waited for at the end of each, median over
windows, dispatch included. The jitted step takes the parameters and the optimizer state donated and returns the new
ones. Hyperparameters are the catalog's defaults where optax exposes them (LARS's learning rate 1e-2 as
OptDsl.GpuBench --phases sets it). Where optax's rule is not the catalog's:
- AdamW, LAMB, Lion, DoG: the same equations. optax's defaults differ (AdamW's weight decay 1e-4, LAMB's 0, Lion's
  1e-3), so the catalog's are passed. optax before 0.2.6 had another DoG, which rewrote its copy of x0 every step.
- LARS: optax's trust ratio is coefficient ||p|| / ||g + wd p||, the catalog's coefficient ||p|| / (||g|| + wd ||p||).
- Adafactor: optax has no relative step (with learning_rate=None it applies none); the catalog's min(1e-2, 1/sqrt(t))
  is passed as a schedule, and optax's scaling by max(rms(p), 1e-3), clipping to rms 1, decay 1 - t^-0.8 and eps 1e-30
  are the catalog's. optax factors the two largest dimensions of a tensor, and only where the smaller of them is at
  least 128 (a full second moment otherwise); the catalog factors the first dimension against the rest, a vector as n
  rows of one column. On GPT-2 small's matrices (both dimensions at least 768) and vectors the estimates agree; on
  other shapes they do not.
- Prodigy: optax always scales the step by Adam's bias correction sqrt(1 - b2^t) / (1 - b1^t) (the catalog's
  useBiasCorrection, off by default), has no zero-denominator guard and keeps d in float32 (the catalog: double).
  Its d = max(d, d_hat) is what the catalog's rule gives with its default, unlimited growth rate.
Usage: python3 optax_peers.py out.json [Name ...]   (no names: every rule)"""
import json
import os
import re
import statistics
import sys
import time
import warnings

os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"

import jax
import jax.numpy as jnp
import optax

from gpt2_shapes import gpt2_shapes

warnings.filterwarnings("ignore", message="Some donated buffers were not usable")


def median_ms(step, sync, windows=15, per_window=10):
    for _ in range(5):
        step()
    sync()
    times = []
    for _ in range(windows):
        sync()
        start = time.perf_counter()
        for _ in range(per_window):
            step()
        sync()
        times.append((time.perf_counter() - start) * 1000 / per_window)
    return statistics.median(times)


def params_and_grads():
    shapes = gpt2_shapes()
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * len(shapes))
    ps = [jax.random.normal(k, s, jnp.float32) * 0.02 for k, s in zip(keys[0::2], shapes)]
    gs = [jax.random.normal(k, s, jnp.float32) * 1e-3 for k, s in zip(keys[1::2], shapes)]
    return ps, gs


def time_rule(optimizer):
    ps, gs = params_and_grads()
    # Every state array a buffer of its own: Prodigy and DoG keep the initial parameters, the same arrays as ps, and
    # one buffer cannot be donated twice in a call.
    state = jax.tree.map(jnp.copy, optimizer.init(ps))

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    jitted = jax.jit(step, donate_argnums=(0, 1))
    carry = [ps, state]

    def once():
        carry[:] = jitted(carry[0], carry[1], gs)

    return median_ms(once, lambda: jax.block_until_ready(carry))


def contrib(name):
    """optax.contrib's rule of that name, or None where this optax has none."""
    try:
        from optax import contrib as module
    except ImportError:
        return None
    return getattr(module, name, None)


def relative_step(count):
    return jnp.minimum(1e-2, 1.0 / jnp.sqrt(count + 1.0))


RULES = [
    ("AdamW", lambda: optax.adamw(1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2)),
    ("LAMB", lambda: optax.lamb(1e-3, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.01)),
    ("LARS", lambda: optax.lars(1e-2, weight_decay=5e-4, trust_coefficient=1e-3, momentum=0.9)),
    ("Lion", lambda: optax.lion(1e-4, b1=0.9, b2=0.99, weight_decay=0.0)),
    ("Adafactor", lambda: optax.adafactor(learning_rate=relative_step, decay_rate=0.8, multiply_by_parameter_scale=True,
                                          clipping_threshold=1.0, momentum=None, weight_decay_rate=None, eps=1e-30)),
    ("Prodigy", lambda: contrib("prodigy")(learning_rate=1.0, betas=(0.9, 0.999), eps=1e-8, estim_lr0=1e-6,
                                           estim_lr_coef=1.0, weight_decay=0.0)),
    ("DoG", lambda: contrib("dog")(learning_rate=1.0, eps=1e-8)),
]
CONTRIB = {"Prodigy": "prodigy", "DoG": "dog"}


def folded(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def main():
    known = {folded(name): name for name, _ in RULES}
    unknown = [n for n in sys.argv[2:] if folded(n) not in known]
    if unknown:
        sys.exit(f"unknown rules {unknown}; known: {', '.join(name for name, _ in RULES)}")
    chosen = {known[folded(n)] for n in sys.argv[2:]} or set(known.values())
    print(f"jax {jax.__version__}, optax {optax.__version__}, {jax.devices()[0].device_kind}", flush=True)
    results = {}
    for name, make in RULES:
        if name not in chosen:
            continue
        key = f"optax {name}, jax.jit"
        if name in CONTRIB and contrib(CONTRIB[name]) is None:
            print(f"{key:44} missing: no optax.contrib.{CONTRIB[name]} in optax {optax.__version__}", flush=True)
            continue
        try:
            results[key] = time_rule(make())
            print(f"{key:44} {results[key]:8.3f} ms", flush=True)
        except Exception as e:  # a compiler failure is a result too
            print(f"{key:44} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
    with open(sys.argv[1] if len(sys.argv) > 1 else "optax_peers.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
