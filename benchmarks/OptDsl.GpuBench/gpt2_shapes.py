"""GPT-2 small's parameter shapes (148 tensors, 124.4M elements), as Gpt2Shapes.cs lists them: no torch or JAX here,
so that the PyTorch and the JAX scripts share the list without importing each other's framework."""


def gpt2_shapes():
    d = 768
    shapes = [(50257, d), (1024, d)]
    for _ in range(12):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return shapes + [(d,), (d,)]
