"""Reader for dlib's serialized DNN files (the format of `dlib_face_recognition_resnet_model_v1.dat`).

dlib writes a network recursively: the loss layer, then one version integer per nested layer (outermost
first), then the input layer, then each layer's own record in forward order. Tag and skip layers write no
record, so the topology is not in the file: `facegate.vision.encoder` writes it in code and checks it
against the sequence of records returned here.

Only what the face network uses is understood. Anything else is a `ModelFileError`, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facegate.errors import ModelFileError

# A real file has ~600 records; bounds keep a corrupted length from allocating gigabytes.
_MAX_STRING = 256
_MAX_TENSOR_VALUES = 50_000_000
_MAX_NESTING = 10_000
# Plausible geometry: anything outside is damage, not a network this reader should build.
_MAX_KERNEL = 64
_MAX_STRIDE = 16
_MAX_INPUT_SIDE = 10_000


@dataclass
class LayerRecord:
    """One layer as stored: its kind ("con", "affine", "relu", ...) and its parameters."""

    kind: str
    params: dict = field(default_factory=dict)


@dataclass
class DlibNetwork:
    loss: str
    loss_margin: float
    loss_distance_threshold: float
    input_kind: str
    channel_means: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[LayerRecord]


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"dlib network file is corrupt or truncated at byte {self.pos}: {what}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"needs {n} more bytes, file ends at {len(self.data)}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def boolean(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise self.fail(f"expected a bool ('0' or '1'), found {byte!r}")
        return byte == b"1"

    def string(self) -> str:
        n = self.integer()
        if not 0 <= n <= _MAX_STRING:
            raise self.fail(f"implausible string length {n}")
        try:
            return self.take(n).decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail("string is not ASCII") from exc

    def real(self) -> float:
        mantissa = self.integer()
        exponent = self.integer()
        if abs(exponent) > 2000:
            raise self.fail(f"implausible float exponent {exponent}")
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError:
            raise self.fail(f"number {mantissa} * 2^{exponent} is out of range") from None

    def count(self, what: str, low: int, high: int) -> int:
        """An integer that must lie in [low, high] (a size, stride, mode ...)."""
        value = self.integer()
        if not low <= value <= high:
            raise self.fail(f"{what} is {value}, expected {low}..{high}")
        return value

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise self.fail(f"tensor version {version}, expected 2")
        shape = tuple(self.integer() for _ in range(4))
        if any(d < 0 for d in shape) or math.prod(shape) > _MAX_TENSOR_VALUES:  # exact: Python integers
            raise self.fail(f"implausible tensor shape {shape}")
        values = np.frombuffer(self.take(4 * math.prod(shape)), dtype="<f4")
        if not np.isfinite(values).all():
            raise self.fail(f"a tensor of shape {shape} holds NaN or infinite values")
        return values.astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.integer()
        if version != 1:
            raise self.fail(f"alias_tensor version {version}, expected 1")
        shape = (self.integer(), self.integer(), self.integer(), self.integer())
        if any(d < 0 for d in shape) or math.prod(shape) > _MAX_TENSOR_VALUES:
            raise self.fail(f"implausible parameter shape {shape}")
        return shape

    def expect(self, value: int, what: str) -> None:
        found = self.integer()
        if found != value:
            raise self.fail(f"{what} is {found}, expected {value}")


def _split_params(reader: _Reader, params: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Cut a layer's flat parameter tensor into the aliased views dlib stores shapes for."""
    flat = params.reshape(-1)
    total = sum(math.prod(s) for s in shapes)
    if total != flat.size:
        raise reader.fail(f"parameter count {flat.size} does not match shapes {shapes}")
    out, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[offset:offset + size].reshape(shape))
        offset += size
    return out


def _read_layer_details(reader: _Reader, tag: str) -> LayerRecord:
    if tag == "con_4":
        params = reader.tensor()
        num_filters = reader.count("number of filters", 1, _MAX_TENSOR_VALUES)
        nr, nc = reader.count("filter height", 1, _MAX_KERNEL), reader.count("filter width", 1, _MAX_KERNEL)
        stride_y, stride_x = reader.count("stride", 1, _MAX_STRIDE), reader.count("stride", 1, _MAX_STRIDE)
        pad_y, pad_x = reader.count("padding", 0, nr - 1), reader.count("padding", 0, nc - 1)
        filter_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        for _ in range(4):  # learning-rate and weight-decay multipliers: training only
            reader.real()
        filters, bias = _split_params(reader, params, [filter_shape, bias_shape])
        if filters.shape[0] != num_filters or filters.shape[2:] != (nr, nc):
            raise reader.fail(f"conv filter shape {filters.shape} disagrees with {num_filters}x{nr}x{nc}")
        return LayerRecord("con", {"filters": filters, "bias": bias.reshape(-1),
                                   "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)})
    if tag == "affine_":
        params = reader.tensor()
        gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
        mode = reader.count("affine mode", 0, 1)
        gamma, beta = _split_params(reader, params, [gamma_shape, beta_shape])
        return LayerRecord("affine", {"gamma": gamma.reshape(-1), "beta": beta.reshape(-1), "mode": mode})
    if tag == "relu_":
        return LayerRecord("relu")
    if tag == "add_prev_":
        return LayerRecord("add_prev")
    if tag in ("max_pool_2", "avg_pool_2"):
        nr, nc = reader.count("pool height", 0, _MAX_KERNEL), reader.count("pool width", 0, _MAX_KERNEL)  # 0: global
        stride_y, stride_x = reader.count("stride", 1, _MAX_STRIDE), reader.count("stride", 1, _MAX_STRIDE)
        pad_y, pad_x = reader.count("padding", 0, max(nr - 1, 0)), reader.count("padding", 0, max(nc - 1, 0))
        return LayerRecord(tag[:-2], {"size": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)})
    if tag == "fc_2":
        num_outputs = reader.count("number of outputs", 1, _MAX_TENSOR_VALUES)
        num_inputs = reader.count("number of inputs", 0, _MAX_TENSOR_VALUES)
        params = reader.tensor()
        weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        bias_mode = reader.count("bias mode", 0, 1)
        for _ in range(4):
            reader.real()
        shapes = [weight_shape] + ([bias_shape] if bias_mode == 0 else [])
        parts = _split_params(reader, params, shapes)
        weights = parts[0].reshape(num_inputs, num_outputs)
        return LayerRecord("fc", {"weights": weights, "bias": parts[1].reshape(-1) if bias_mode == 0 else None})
    raise reader.fail(f"layer type {tag!r} is not supported by this reader")


def parse_dlib_network(data: bytes) -> DlibNetwork:
    """Parse a whole serialized dlib network. Raises ModelFileError unless every byte is accounted for."""
    reader = _Reader(data)
    try:
        return _parse(reader)
    except (ValueError, OverflowError, IndexError, MemoryError) as exc:  # inconsistent shapes in a damaged file
        raise reader.fail(f"inconsistent layer record ({exc})") from exc


def _parse(reader: _Reader) -> DlibNetwork:
    data = reader.data
    reader.expect(1, "loss layer version")
    loss = reader.string()
    if loss != "loss_metric_2":
        raise reader.fail(f"loss layer {loss!r}, expected 'loss_metric_2' (a dlib face embedding network)")
    margin, distance_threshold = reader.real(), reader.real()

    # One version integer per nested layer until the input layer's record, which starts with its name.
    nesting = 0
    while True:
        if nesting > _MAX_NESTING:
            raise reader.fail("no input layer found")
        mark = reader.pos
        try:
            name = reader.string()
        except Exception:  # noqa: BLE001 - no layer name here: the probe moves on
            name = ""
        if name.startswith("input_"):
            break
        reader.pos = mark
        reader.integer()
        nesting += 1
    if name != "input_rgb_image_sized":
        raise reader.fail(f"input layer {name!r}, expected 'input_rgb_image_sized'")
    means = (reader.real(), reader.real(), reader.real())
    input_size = (reader.count("input height", 1, _MAX_INPUT_SIDE), reader.count("input width", 1, _MAX_INPUT_SIDE))

    layers: list[LayerRecord] = []
    while reader.pos < len(data):
        tag = reader.string()
        layers.append(_read_layer_details(reader, tag))
        for _ in range(3):  # setup_called, gradient_input_is_stale, output_and_gradient_disabled
            reader.boolean()
        for _ in range(3):  # x_grad, cached_output, params_grad: empty in a saved network
            reader.tensor()
        if len(layers) == 1:
            reader.expect(1, "sample expansion factor of the input layer")
    if not layers:
        raise reader.fail("no layers")
    return DlibNetwork(loss, margin, distance_threshold, name, means, input_size, layers)
