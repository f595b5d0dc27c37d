"""Fused C kernels for the training step, which model.py builds into the graph when asked (``kernels="fused"``).

Written as the tutorial writes them, the softmax and negative log-likelihood, made of elementwise ops and
reductions, and the gradient pt.grad derives from them compile to some twenty small C loops over the
minibatch's n x k logits, each with its own pass over memory and its own cost to enter; and tanh, as
2 sigmoid(2z) - 1, to a loop that calls libm's expf once an element. The kernels here take their place:

- SoftmaxNLL: the mean loss and its gradient, (softmax - one-hot) / n, in one pass over the logits, so
  differentiating the graph needs no further pass of its own;
- RationalTanh: tanh as a rational function, which the compiler vectorizes inside PyTensor's fused
  elementwise loops (the bias added, the derivative 1 - t^2 applied on the way back).

model.py's LogisticRegression and HiddenLayer use them when built with ``kernels="fused"`` (the default) and
the tutorial's ops with ``kernels="unfused"``; no graph is searched and rewritten afterwards, so a kernel asked
for is a kernel in the graph. The matrix products stay OpenBLAS's (bench/rank_update.c: a hand-written update was
slower). The arithmetic differs from the unfused graph's in the last bits (SoftmaxNLL sums in double;
RationalTanh is within a few float32 ulps of tanh), so results are not bit for bit those of
``kernels="unfused"`` (``--compat 2015`` always computes unfused).
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.scalar import basic as ps
from pytensor.scalar.basic import UnaryScalarOp
from pytensor.tensor.elemwise import Elemwise


class SoftmaxNLL(COp):
    """(logits [n, k], labels [n]) -> (mean negative log-likelihood, (softmax(logits) - one_hot(labels)) / n).

    The second output is the loss's gradient with respect to the logits.

    One pass a row: its max, the sum of exp(z - max) in double, the loss of the row's label and the
    row of the error matrix. A label outside 0..k-1 is an error (the unfused graph would score it 0).
    """

    __props__ = ()

    def make_node(self, logits, labels):
        logits, labels = pt.as_tensor_variable(logits), pt.as_tensor_variable(labels)
        if logits.ndim != 2 or logits.dtype not in ("float32", "float64"):
            raise TypeError(f"SoftmaxNLL: logits must be a float matrix, got {logits.type}")
        if labels.ndim != 1 or labels.dtype not in ("int32", "int64"):
            raise TypeError(f"SoftmaxNLL: labels must be an int vector, got {labels.type}")
        return Apply(self, [logits, labels], [pt.scalar(dtype=logits.dtype), logits.type()])

    def perform(self, node, inputs, outputs):
        logits, labels = inputs
        z = np.asarray(logits, dtype=np.float64)
        bad = np.flatnonzero((labels < 0) | (labels >= z.shape[1]))
        if bad.size:
            raise ValueError(f"SoftmaxNLL: label {labels[bad[0]]} of row {bad[0]} is outside 0..{z.shape[1] - 1}")
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(z.shape[0])
        loss = np.sum(np.log(s[:, 0]) - shifted[rows, labels]) / max(z.shape[0], 1)
        error = e / s
        error[rows, labels] -= 1.0
        error /= max(z.shape[0], 1)
        outputs[0][0] = np.asarray(loss if z.shape[0] else 0.0, dtype=logits.dtype)
        outputs[1][0] = error.astype(logits.dtype)

    def pullback(self, inputs, outputs, output_grads):
        return [outputs[1] * output_grads[0], DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True, False], [False, False]]

    def c_support_code(self, **kwargs):
        return "#include <math.h>"

    def c_code(self, node, name, inputs, outputs, sub):
        logits, labels = inputs
        loss, error = outputs
        real = node.inputs[0].type.dtype_specs()[1]
        label = node.inputs[1].type.dtype_specs()[1]
        typenum = node.inputs[0].type.dtype_specs()[2]
        fail = sub["fail"]
        return f"""
        {{
        npy_intp n = PyArray_DIMS({logits})[0], k = PyArray_DIMS({logits})[1];
        npy_intp zs0 = PyArray_STRIDES({logits})[0], zs1 = PyArray_STRIDES({logits})[1];
        npy_intp ys0 = PyArray_STRIDES({labels})[0];
        if (PyArray_DIMS({labels})[0] != n) {{
            PyErr_Format(PyExc_ValueError, "SoftmaxNLL: %lld logits rows but %lld labels",
                         (long long)n, (long long)PyArray_DIMS({labels})[0]);
            {fail}
        }}
        if (!{loss}) {{
            {loss} = (PyArrayObject*)PyArray_EMPTY(0, NULL, {typenum}, 0);
            if (!{loss}) {{ {fail} }}
        }}
        if (!{error} || PyArray_DIMS({error})[0] != n || PyArray_DIMS({error})[1] != k
            || !PyArray_IS_C_CONTIGUOUS({error})) {{
            Py_XDECREF({error});
            {error} = (PyArrayObject*)PyArray_EMPTY(2, PyArray_DIMS({logits}), {typenum}, 0);
            if (!{error}) {{ {fail} }}
        }}
        const char* zbase = (const char*)PyArray_DATA({logits});
        const char* ybase = (const char*)PyArray_DATA({labels});
        {real}* out = ({real}*)PyArray_DATA({error});
        double total = 0.0, inv_n = n ? 1.0 / n : 0.0;
        for (npy_intp i = 0; i < n; ++i) {{
            const char* row = zbase + i * zs0;
            {label} yi = *(const {label}*)(ybase + i * ys0);
            if (yi < 0 || yi >= k) {{
                PyErr_Format(PyExc_ValueError, "SoftmaxNLL: label %lld of row %lld is outside 0..%lld",
                             (long long)yi, (long long)i, (long long)(k - 1));
                {fail}
            }}
            double m = *(const {real}*)row;
            for (npy_intp j = 1; j < k; ++j) {{
                double z = *(const {real}*)(row + j * zs1);
                if (z > m) m = z;
            }}
            double s = 0.0;
            {real}* e = out + i * k;
            for (npy_intp j = 0; j < k; ++j) {{
                double ej = exp(*(const {real}*)(row + j * zs1) - m);
                e[j] = ({real})ej;
                s += ej;
            }}
            double inv = 1.0 / s;
            for (npy_intp j = 0; j < k; ++j) e[j] = ({real})((e[j] * inv - (j == yi)) * inv_n);
            total += log(s) - (*(const {real}*)(row + yi * zs1) - m);
        }}
        *({real}*)PyArray_DATA({loss}) = ({real})(n ? total / n : 0.0);
        }}
        """

    def c_code_cache_version(self):
        return (2,)


softmax_nll = SoftmaxNLL()


class RationalTanh(UnaryScalarOp):
    """tanh as the rational function XLA and Eigen use for float32: a degree-13 odd polynomial over a degree-6
    even one, the input clamped to +-7.9053 (where it rounds to +-1) and returned as it is below 4e-4.

    Pure arithmetic, so the compiler vectorizes the elementwise loop it sits in (tanh from libm, or the
    sigmoid's exp, is a scalar call an element). Agrees with tanh to within a few float32 ulps; its
    gradient is 1 - tanh^2 of its own output. float64 inputs use libm's tanh.
    """

    def impl(self, x):
        x = np.asarray(x)
        if x.dtype != np.float32:
            return np.tanh(x)
        return _rational_tanh_f32(x)

    def pullback(self, inputs, outputs, grads):
        (t,) = outputs
        (gz,) = grads
        return [gz * (1.0 - t * t)]

    def c_support_code(self, **kwargs):
        return "#include <math.h>"

    def c_code(self, node, name, inputs, outputs, sub):
        (x,) = inputs
        (z,) = outputs
        if node.inputs[0].type == ps.float64:
            return f"{z} = tanh({x});"
        if node.inputs[0].type != ps.float32:
            raise NotImplementedError("RationalTanh: float32 or float64 only")
        alpha = " ".join(f"p = p * x2 + {a!r}f;" for a in _ALPHA[1:])
        beta = " ".join(f"q = q * x2 + {b!r}f;" for b in _BETA[1:])
        return f"""{{
            float xc = {x} > {_CLAMP!r}f ? {_CLAMP!r}f : ({x} < -{_CLAMP!r}f ? -{_CLAMP!r}f : {x});
            float x2 = xc * xc;
            float p = {_ALPHA[0]!r}f; {alpha} p = xc * p;
            float q = {_BETA[0]!r}f; {beta}
            {z} = fabsf({x}) < {_TINY!r}f ? {x} : p / q;
        }}"""

    def c_code_cache_version(self):
        return (1,)


#: Eigen's generic_fast_tanh_float: numerator coefficients from x^13 down to x^1, denominator from x^6 to x^0
_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
          1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)
_CLAMP = 7.90531110763549805
_TINY = 0.0004


def _rational_tanh_f32(x):
    """RationalTanh's C arithmetic in NumPy float32, step for step (constant folding and tests use it)."""
    f = np.float32
    x = np.asarray(x, dtype=f)
    xc = np.clip(x, f(-_CLAMP), f(_CLAMP))
    x2 = xc * xc
    p = np.full_like(x, f(_ALPHA[0]))
    for a in _ALPHA[1:]:
        p = p * x2 + f(a)
    p = xc * p
    q = np.full_like(x, f(_BETA[0]))
    for b in _BETA[1:]:
        q = q * x2 + f(b)
    return np.where(np.abs(x) < f(_TINY), x, p / q).astype(f)


rational_tanh = Elemwise(RationalTanh(ps.upgrade_to_float, name="rational_tanh"), name="RationalTanh")
