"""The step's larger matrix products through oneDNN (``--gemm onednn``), where its kernels beat OpenBLAS's.

At the training step's shapes (20-row minibatches) oneDNN's ``dnnl_sgemm``, which JIT-compiles small-M products for
the CPU's instruction set, is faster than the pinned OpenBLAS where the product's inner dimension is large and its
output wide, and slower where either is small (bench/gemm_libraries.c, one thread, best of 5 rounds each, the two
libraries alternated; docs/speed.md has the table):

| product (row-major) | OpenBLAS | oneDNN |
|---|---|---|
| 20x784 . 784x500 (forward, layer 1) | 201 us | 146 us |
| 20x784 . 784x100 | 42 us | 33 us |
| 20x500 . 500x500 (forward, layer 2) | 127 us | 93 us |
| 20x500 . (500x500)^T (backward, layer 2) | 154 us | 122 us |
| 20x100 . 100x100 | 3.9 us | 4.8 us |
| 20x784 . 784x10 | 4.9 us | 7.1 us |
| rank-20 updates 784x20 . 20x500 (beta 1) | 174 us | 172 us |

So a product goes to oneDNN when its inner dimension is at least INNER_MIN and its output at least WIDTH_MIN wide
(``prefers_onednn``): the hidden layers' forward products of the 784- and 500-wide layers, and their backward
products to the layer below. The weight updates (level) and every smaller product stay OpenBLAS's Dot22 and Gemm,
which PyTensor fuses with the update in place. The choice is made from the shapes when the graph is built, never
by timing at run time, so a run's arithmetic is the same every time.

oneDNN comes from the ``onednn-cpu-gomp`` wheel (its libdnnl.so.3 in the environment's lib/, threaded by GNU
OpenMP and pinned to one thread here, as OpenBLAS is). Where it cannot be loaded ``available()`` says why, and the
run computes with OpenBLAS and says so once (train.py). float64 graphs (``--compat 2015``) always use OpenBLAS.
"""

import ctypes
import functools
import sys
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

#: The shapes where oneDNN's product is the faster (see the module docstring's table).
INNER_MIN, WIDTH_MIN = 256, 64
#: What config.json records of the choice.
RULE = f"oneDNN dnnl_sgemm for float32 products with inner dimension >= {INNER_MIN} and output width >= {WIDTH_MIN}; " \
       "OpenBLAS for the rest and for the weight updates"


def prefers_onednn(inner: int, width: int) -> bool:
    return inner >= INNER_MIN and width >= WIDTH_MIN


def library_dir() -> Path:
    """Where the onednn-cpu-gomp wheel puts libdnnl.so.3: the environment's lib/ (its data files go to sys.prefix)."""
    return Path(sys.prefix) / "lib"


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None if oneDNN can compute here; else why not (one line)."""
    path = library_dir() / "libdnnl.so.3"
    if not path.is_file():
        return f"oneDNN is not installed ({path} not found; pip install onednn-cpu-gomp)"
    try:
        library = ctypes.CDLL(str(path))
        version = library.dnnl_version()
    except OSError as err:
        return f"oneDNN cannot be loaded ({err})"
    if not version:
        return "oneDNN gives no version"
    return None


@functools.cache
def note_fallback(log) -> None:
    """Say once per process (and destination) that --gemm onednn computes with OpenBLAS here, and why."""
    log(f"[gemm] {available()}: OpenBLAS computes every product (--gemm onednn falls back; config.json records why)")


def version() -> str | None:
    """oneDNN's version, as config.json records it (None where it is not available)."""
    if available() is not None:
        return None

    class Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                    ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]

    library = ctypes.CDLL(str(library_dir() / "libdnnl.so.3"))
    library.dnnl_version.restype = ctypes.POINTER(Version)
    v = library.dnnl_version().contents
    return f"{v.major}.{v.minor}.{v.patch}"


class DnnlDot(COp):
    """a [m, inner] . B [inner, width] -> [m, width], float32, by dnnl_sgemm, where B is the input b, or b^T with
    ``transpose_b`` (b [width, inner]). ``inner`` and ``width`` are the product's shapes as the graph was built
    (they decide its gradient's library); the C code checks them against the arrays.

    The gradient to ``a``, gz . B^T, is itself a DnnlDot where that product is the faster (``prefers_onednn``), else
    pt.dot; the gradient to ``b`` is a pt.dot, which PyTensor builds into the in-place Gemm update of the weights."""

    __props__ = ("transpose_b", "inner", "width")

    def __init__(self, transpose_b=False, inner=None, width=None):
        self.transpose_b, self.inner, self.width = bool(transpose_b), inner, width

    def make_node(self, a, b):
        a, b = pt.as_tensor_variable(a), pt.as_tensor_variable(b)
        if a.ndim != 2 or b.ndim != 2 or a.dtype != "float32" or b.dtype != "float32":
            raise TypeError(f"DnnlDot: float32 matrices only, got {a.type} and {b.type}")
        return Apply(self, [a, b], [pt.matrix(dtype="float32", shape=(a.type.shape[0], self.width))])

    def perform(self, node, inputs, outputs):
        a, b = inputs
        outputs[0][0] = np.asarray(a @ (b.T if self.transpose_b else b), dtype=np.float32)

    def pullback(self, inputs, outputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        if prefers_onednn(self.width, self.inner):
            grad_a = DnnlDot(not self.transpose_b, self.width, self.inner)(gz, b)
        else:
            grad_a = pt.dot(gz, b if self.transpose_b else b.T)
        grad_b = pt.dot(gz.T, a) if self.transpose_b else pt.dot(a.T, gz)
        return [grad_a, grad_b]

    def c_support_code(self, **kwargs):
        return """
        #include <stdint.h>
        #include <string.h>
        extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                                  int64_t ldc);
        extern "C" void omp_set_num_threads(int);
        """

    def c_init_code(self, **kwargs):
        return ["omp_set_num_threads(1);"]

    def c_libraries(self, **kwargs):
        return ["dnnl", "gomp"]

    def c_lib_dirs(self, **kwargs):
        return [str(library_dir())]

    def c_compile_args(self, **kwargs):
        return [f"-Wl,-rpath,{library_dir()}"]

    def c_code(self, node, name, inputs, outputs, sub):
        a, b = inputs
        (z,) = outputs
        fail = sub["fail"]
        transpose = "1" if self.transpose_b else "0"
        return f"""
        {{
        PyArrayObject* ca = PyArray_GETCONTIGUOUS({a});
        PyArrayObject* cb = PyArray_GETCONTIGUOUS({b});
        if (!ca || !cb) {{ Py_XDECREF(ca); Py_XDECREF(cb); {fail} }}
        npy_intp m = PyArray_DIMS(ca)[0], k = PyArray_DIMS(ca)[1];
        int transpose = {transpose};
        npy_intp bk = transpose ? PyArray_DIMS(cb)[1] : PyArray_DIMS(cb)[0];
        npy_intp n = transpose ? PyArray_DIMS(cb)[0] : PyArray_DIMS(cb)[1];
        if (bk != k || k != {self.inner} || n != {self.width}) {{
            PyErr_Format(PyExc_ValueError, "DnnlDot: shapes (%lld, %lld) and (%lld, %lld) are not the product it "
                         "was built for (inner %d, width %d)", (long long)m, (long long)k,
                         (long long)PyArray_DIMS(cb)[0], (long long)PyArray_DIMS(cb)[1], {self.inner}, {self.width});
            Py_DECREF(ca); Py_DECREF(cb); {fail}
        }}
        if (!{z} || PyArray_DIMS({z})[0] != m || PyArray_DIMS({z})[1] != n || !PyArray_IS_C_CONTIGUOUS({z})) {{
            npy_intp dims[2] = {{m, n}};
            Py_XDECREF({z});
            {z} = (PyArrayObject*)PyArray_EMPTY(2, dims, NPY_FLOAT32, 0);
            if (!{z}) {{ Py_DECREF(ca); Py_DECREF(cb); {fail} }}
        }}
        if (m && n) {{
            if (k == 0) {{
                memset(PyArray_DATA({z}), 0, sizeof(float) * m * n);
            }} else {{
                int status = dnnl_sgemm('N', transpose ? 'T' : 'N', m, n, k, 1.0f,
                                        (const float*)PyArray_DATA(ca), k, (const float*)PyArray_DATA(cb),
                                        transpose ? k : n, 0.0f, (float*)PyArray_DATA({z}), n);
                if (status != 0) {{
                    PyErr_Format(PyExc_RuntimeError, "DnnlDot: dnnl_sgemm failed (status %d)", status);
                    Py_DECREF(ca); Py_DECREF(cb); {fail}
                }}
            }}
        }}
        Py_DECREF(ca); Py_DECREF(cb);
        }}
        """

    def c_code_cache_version(self):
        return (2, str(library_dir()))


def product(a, W, gemm: str):
    """The layer's a . W, W a shared weight matrix: by oneDNN under ``gemm="onednn"`` where that is the faster and
    oneDNN is available, else pt.dot (OpenBLAS)."""
    if gemm != "onednn" or W.dtype != "float32" or a.dtype != "float32" or available() is not None:
        return pt.dot(a, W)
    inner, width = W.get_value(borrow=True).shape
    if not prefers_onednn(inner, width):
        return pt.dot(a, W)
    return DnnlDot(False, inner, width)(a, W)
