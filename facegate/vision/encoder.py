"""dlib's ResNet-29 face embedder (150x150 RGB chip -> 128-d), rebuilt in TensorFlow from dlib's own file.

The topology below is dlib's `anet_type` (dnn_face_recognition_ex.cpp); the weights come from
`dlib_face_recognition_resnet_model_v1.dat`, read by `dlibfile`. Each frozen batch norm ("affine") is folded
into the convolution before it, so the graph is just conv+bias, relu, pools and adds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ModelFileError
from facegate.vision.dlibfile import DlibNetwork, LayerRecord, parse_dlib_network
from facegate.vision.weights import DLIB_RESNET, verified_path

CHIP_SIZE = 150
EMBEDDING_SIZE = 128

# (filters, residual blocks at that width, first block downsamples?) from input to output, as in dlib.
_STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


@dataclass
class _Conv:
    kernel: np.ndarray  # HWIO, batch norm folded in
    bias: np.ndarray
    stride: int


class _LayerCursor:
    """Walks dlib's records in forward order and checks each is the kind the topology expects."""

    def __init__(self, layers: list[LayerRecord]):
        self.layers = layers
        self.index = 0

    def take(self, kind: str) -> LayerRecord:
        if self.index >= len(self.layers):
            raise ModelFileError(f"dlib network ends early: expected a {kind!r} layer at record {self.index}")
        record = self.layers[self.index]
        if record.kind != kind:
            raise ModelFileError(f"dlib network record {self.index} is {record.kind!r}, expected {kind!r}; "
                                 "this is not dlib's ResNet-29 face model")
        self.index += 1
        return record

    def conv_affine(self) -> _Conv:
        conv, affine = self.take("con"), self.take("affine")
        gamma, beta = affine.params["gamma"], affine.params["beta"]
        kernel = conv.params["filters"].transpose(2, 3, 1, 0) * gamma  # OIHW -> HWIO, scaled per output
        bias = conv.params["bias"] * gamma + beta
        return _Conv(np.ascontiguousarray(kernel, np.float32), bias.astype(np.float32), conv.params["stride"][0])


def _fold_network(network: DlibNetwork) -> dict:
    """Turn the record list into the plan the TF graph is built from, checking the topology as it goes."""
    cursor = _LayerCursor(network.layers)
    stem = cursor.conv_affine()
    cursor.take("relu")
    cursor.take("max_pool")
    blocks = []
    for width, count, downsample_first in _STAGES:
        for i in range(count):
            down = downsample_first and i == 0
            first = cursor.conv_affine()
            cursor.take("relu")
            second = cursor.conv_affine()
            if down:
                cursor.take("avg_pool")
            cursor.take("add_prev")
            cursor.take("relu")
            if first.kernel.shape[-1] != width or first.stride != (2 if down else 1):
                raise ModelFileError("dlib network block shape does not match ResNet-29")
            blocks.append((first, second, down))
    cursor.take("avg_pool")
    fc = cursor.take("fc")
    if cursor.index != len(network.layers):
        raise ModelFileError("dlib network has records after the final layer")
    if fc.params["weights"].shape != (256, EMBEDDING_SIZE):
        raise ModelFileError(f"embedding layer shape {fc.params['weights'].shape}, expected (256, 128)")
    return {"stem": stem, "blocks": blocks, "fc": fc.params["weights"].astype(np.float32),
            "means": np.array(network.channel_means, np.float32)}


def _pad_to(x: Any, height: int, width: int, channels: int) -> Any:
    """dlib adds tensors of different sizes by zero-padding the smaller at the end of each axis."""
    import tensorflow as tf

    shape = tf.shape(x)
    return tf.pad(x, [[0, 0], [0, height - shape[1]], [0, width - shape[2]], [0, channels - shape[3]]])


class FaceEncoder:
    """Encode aligned 150x150 RGB chips into 128-d embeddings (same space and scale as dlib's)."""

    def __init__(self, model_path: str | Path | None = None):
        import tensorflow as tf

        path = model_path or verified_path(DLIB_RESNET)
        with open(path, "rb") as fh:
            plan = _fold_network(parse_dlib_network(fh.read()))
        self._tf = tf
        self._means = tf.constant(plan["means"])
        self._stem = self._variables(plan["stem"])
        self._blocks = [(self._variables(a), self._variables(b), down) for a, b, down in plan["blocks"]]
        self._fc = tf.constant(plan["fc"])
        self._forward = tf.function(
            self._graph, input_signature=[tf.TensorSpec([None, CHIP_SIZE, CHIP_SIZE, 3], tf.uint8)],
            jit_compile=False, reduce_retracing=True)
        self._lock = threading.Lock()

    def _variables(self, conv: _Conv):
        tf = self._tf
        return tf.constant(conv.kernel), tf.constant(conv.bias), conv.stride

    def _conv(self, x: Any, params: tuple[Any, Any, int], padding: str) -> Any:
        kernel, bias, stride = params
        return self._tf.nn.bias_add(self._tf.nn.conv2d(x, kernel, stride, padding), bias)

    def _graph(self, chips: Any) -> Any:
        tf = self._tf
        x = (tf.cast(chips, tf.float32) - self._means) / 256.0
        x = tf.nn.relu(self._conv(x, self._stem, "VALID"))
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        for first, second, down in self._blocks:
            branch = tf.nn.relu(self._conv(x, first, "VALID" if down else "SAME"))
            branch = self._conv(branch, second, "SAME")
            if down:
                skip = tf.nn.avg_pool2d(x, 2, 2, "VALID")
                h = tf.maximum(tf.shape(skip)[1], tf.shape(branch)[1])
                w = tf.maximum(tf.shape(skip)[2], tf.shape(branch)[2])
                c = tf.maximum(tf.shape(skip)[3], tf.shape(branch)[3])
                x = tf.nn.relu(_pad_to(branch, h, w, c) + _pad_to(skip, h, w, c))
            else:
                x = tf.nn.relu(branch + x)
        x = tf.reduce_mean(x, axis=[1, 2])
        return tf.matmul(x, self._fc)

    def infer(self, chips: np.ndarray) -> np.ndarray:
        """chips: (N, 150, 150, 3) or (150, 150, 3) uint8 RGB -> (N, 128) float32 embeddings."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or chips.dtype != np.uint8:
            raise ValueError(f"expected uint8 chips of shape (N, 150, 150, 3), got {chips.dtype} {chips.shape}")
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        with self._lock:
            return self._forward(chips).numpy()
