"""Converts Silent-Face-Anti-Spoofing's MiniFASNet weights (.pth) to the ONNX files under weights/ (dev only).

    /tmp/venv-onnx/bin/python facegate_dev/minifasnet_onnx.py SRC_DIR [--out weights] [--check IMAGE ...]

SRC_DIR holds `2.7_80x80_MiniFASNetV2.pth` and `4_0_0_80x80_MiniFASNetV1SE.pth` from
github.com/minivision-ai/Silent-Face-Anti-Spoofing (resources/anti_spoof_models/, Apache-2.0, see weights/README.md).
Needs NumPy and the `onnx` package (a /tmp venv: it is not a FaceGate dependency); no torch anywhere.

The .pth files are in torch's legacy (pre-1.6) format: a few pickles, then the raw tensor storages one after the
other. They are read with an unpickler that refuses every class except OrderedDict and torch's tensor and storage
rebuilders (a pickle can otherwise run code). The network is written here from the tensors' names and shapes and
from the MiniFASNet design (a pruned MobileFaceNet: conv, depthwise conv, inverted residual blocks, some with
squeeze-and-excitation, a 5x5 global depthwise conv, a 128-d embedding, 3 classes). Batch norms are folded into the
convolutions before them. The graph takes the original input unchanged: a 1x3x80x80 float tensor of BGR values
0-255 (the original feeds OpenCV's BGR frame without scaling), and gives the 3-class softmax; class 1 is a live
face, 0 and 2 are the two attack classes the project trained on.

`--check` runs each converted file in OpenCV's DNN module and compares it with a plain NumPy forward pass of the
unfolded network (batch norm as trained, in float64), on each image's whole frame resized to 80x80 and on random
inputs.
"""

from __future__ import annotations

import argparse
import collections
import pickle
import struct
import sys
from pathlib import Path

import numpy as np

MODELS = {  # source file -> (converted file, the crop scale its name encodes)
    "2.7_80x80_MiniFASNetV2.pth": ("minifasnet_v2_2.7_80x80.onnx", 2.7),
    "4_0_0_80x80_MiniFASNetV1SE.pth": ("minifasnet_v1se_4.0_80x80.onnx", 4.0),
}
BN_EPS = 1e-5  # torch's BatchNorm default; the project does not change it
_STORAGE_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
                   "DoubleStorage": np.float64, "HalfStorage": np.float16}


# ----------------------------------------------------------------------------------------------- reading the .pth

class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name} from the weight file")

    def persistent_load(self, pid):
        _kind, storage_type, key, _location, size, _view = pid
        return storage_type.name, key, size


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format torch state dict, by name (a 'module.' prefix from DataParallel removed)."""
    with open(path, "rb") as fh:
        magic = pickle.load(fh)
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError(f"{path} is not a legacy torch file (magic {magic!r})")
        pickle.load(fh)  # protocol version
        pickle.load(fh)  # system info (endianness, type sizes)
        entries = _RestrictedUnpickler(fh).load()
        keys = pickle.load(fh)
        sizes_and_types = {}
        for _name, (_tag, (stype, key, size), _off, _shape, _stride) in entries.items():
            sizes_and_types[key] = (stype, size)
        storages = {}
        for key in keys:
            count = struct.unpack("<q", fh.read(8))[0]
            dtype = np.dtype(_STORAGE_DTYPES[sizes_and_types[key][0]])
            storages[key] = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype.newbyteorder("<"))
        if fh.read(1):
            raise ValueError(f"{path} has bytes after its last storage")
    tensors = {}
    for name, (_tag, (_stype, key, _size), offset, shape, stride) in entries.items():
        flat = storages[key]
        itemsize = flat.dtype.itemsize
        array = np.lib.stride_tricks.as_strided(flat[offset:], shape=shape,
                                                strides=tuple(s * itemsize for s in stride))
        tensors[name.removeprefix("module.")] = np.array(array)
    return tensors


# ----------------------------------------------------------------------------------------- the network's layout

def layout(state: dict[str, np.ndarray]) -> list[tuple[str, str, dict]]:
    """The network as a list of (kind, weight prefix, options), in order, read from the tensor names."""
    steps: list[tuple[str, str, dict]] = [("conv_block", "conv1", {"stride": 2}),
                                          ("conv_block", "conv2_dw", {"stride": 1})]

    def blocks(stage: str) -> list[str]:
        indices = sorted({int(k.split(".")[2]) for k in state if k.startswith(f"{stage}.model.")})
        return [f"{stage}.model.{i}" for i in indices]

    for down, stage in (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5")):
        steps.append(("depth_wise", down, {"stride": 2, "residual": False, "se": False}))
        for prefix in blocks(stage):
            steps.append(("depth_wise", prefix, {"stride": 1, "residual": True,
                                                 "se": f"{prefix}.se_module.fc1.weight" in state}))
    steps += [("conv_block", "conv_6_sep", {"stride": 1}), ("linear_block", "conv_6_dw", {"stride": 1}),
              ("head", "", {})]
    return steps


def _bn(state, prefix):
    gamma, beta = state[f"{prefix}.weight"], state[f"{prefix}.bias"]
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    return gamma, beta, mean, var


def _fold(weight, state, bn_prefix):
    """Conv (no bias) followed by batch norm -> one conv with a bias."""
    gamma, beta, mean, var = (a.astype(np.float64) for a in _bn(state, bn_prefix))
    scale = gamma / np.sqrt(var + BN_EPS)
    folded = weight.astype(np.float64) * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    return folded.astype(np.float32), (beta - mean * scale).astype(np.float32)


# -------------------------------------------------------------------------------------------- the ONNX graph

def build_onnx(state: dict[str, np.ndarray], graph_name: str, doc: str):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def fresh(tag):
        counter[0] += 1
        return f"{tag}_{counter[0]}"

    def conv(x, prefix, bn_prefix, stride, act):
        weight = state[f"{prefix}.weight"]
        out_c, in_per_group, kh, kw = weight.shape
        in_c = channels[x]
        groups = in_c // in_per_group
        w, b = _fold(weight, state, bn_prefix)
        y = fresh(prefix.replace(".", "_"))
        nodes.append(helper.make_node("Conv", [x, const(y + "_w", w), const(y + "_b", b)], [y + "_conv"],
                                      kernel_shape=[kh, kw], strides=[stride, stride], group=groups,
                                      pads=[kh // 2 if kh == 3 else 0] * 4))
        channels[y + "_conv"] = out_c
        if act == "prelu":
            slope = state[prefix.rsplit(".", 1)[0] + ".prelu.weight"].reshape(-1, 1, 1)
            nodes.append(helper.make_node("PRelu", [y + "_conv", const(y + "_slope", slope)], [y]))
            channels[y] = out_c
            return y
        return y + "_conv"

    def block(x, prefix, kind, stride):  # Conv_block: conv, bn, prelu; Linear_block: conv, bn
        return conv(x, f"{prefix}.conv", f"{prefix}.bn", stride, "prelu" if kind == "conv_block" else None)

    channels = {"input": 3}
    x = "input"
    for kind, prefix, opts in layout(state):
        if kind in ("conv_block", "linear_block"):
            x = block(x, prefix, kind, opts["stride"])
        elif kind == "depth_wise":
            y = block(x, f"{prefix}.conv", "conv_block", 1)
            y = block(y, f"{prefix}.conv_dw", "conv_block", opts["stride"])
            y = block(y, f"{prefix}.project", "linear_block", 1)
            if opts["se"]:  # squeeze and excite the block's output, then add the shortcut
                se = f"{prefix}.se_module"
                pooled = fresh("se_pool")
                nodes.append(helper.make_node("GlobalAveragePool", [y], [pooled]))
                channels[pooled] = channels[y]
                hidden = conv(pooled, f"{se}.fc1", f"{se}.bn1", 1, None)
                relu = fresh("se_relu")
                nodes.append(helper.make_node("Relu", [hidden], [relu]))
                channels[relu] = channels[hidden]
                gate = conv(relu, f"{se}.fc2", f"{se}.bn2", 1, None)
                sig = fresh("se_gate")
                nodes.append(helper.make_node("Sigmoid", [gate], [sig]))
                scaled = fresh("se_scaled")
                nodes.append(helper.make_node("Mul", [y, sig], [scaled]))
                channels[scaled] = channels[y]
                y = scaled
            if opts["residual"]:
                added = fresh("residual")
                nodes.append(helper.make_node("Add", [x, y], [added]))
                channels[added] = channels[y]
                y = added
            x = y
        else:  # head: flatten, linear 512->128, batch norm 1d, linear 128->3, softmax
            nodes.append(helper.make_node("Flatten", [x], ["embedding_in"], axis=1))
            linear = state["linear.weight"].astype(np.float64)  # (128, 512)
            gamma, beta, mean, var = (a.astype(np.float64) for a in _bn(state, "bn"))
            scale = gamma / np.sqrt(var + BN_EPS)
            w1 = (linear * scale[:, None]).T  # Gemm B: (512, 128)
            b1 = beta - mean * scale
            nodes.append(helper.make_node("Gemm", ["embedding_in", const("fc_w", w1), const("fc_b", b1)],
                                          ["embedding"]))
            prob = state["prob.weight"].astype(np.float64).T  # (128, 3)
            nodes.append(helper.make_node("Gemm", ["embedding", const("prob_w", prob),
                                                   const("prob_b", np.zeros(prob.shape[1]))], ["logits"]))
            nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(nodes, graph_name,
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 80, 80])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="facegate_dev",
                              doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ------------------------------------------------------------------------------ a reference forward in NumPy

def _conv_ref(x, w, stride, pad, groups):
    """Plain float64 convolution (NCHW, batch 1): the reference the converted graph is compared with."""
    x = np.pad(x[0], ((0, 0), (pad, pad), (pad, pad)))
    out_c, in_per_group, kh, kw = w.shape
    c, h, wd = x.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((out_c, oh, ow))
    per_group_out = out_c // groups
    for g in range(groups):
        xs = x[g * in_per_group:(g + 1) * in_per_group]
        cols = np.stack([xs[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
                         for i in range(kh) for j in range(kw)], axis=1)  # (in, k*k, oh, ow)
        wg = w[g * per_group_out:(g + 1) * per_group_out].reshape(per_group_out, in_per_group, kh * kw)
        out[g * per_group_out:(g + 1) * per_group_out] = np.einsum("oik,ikhw->ohw", wg, cols)
    return out[None]


def reference_forward(state: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    """The unfolded network in float64 on a 1x3x80x80 input: batch norms as trained, no fusion."""
    s = {k: v.astype(np.float64) for k, v in state.items()}

    def bn(x, prefix):
        gamma, beta, mean, var = _bn(s, prefix)
        shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
        return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + BN_EPS) * gamma.reshape(shape) \
            + beta.reshape(shape)

    def blk(x, prefix, stride, act):
        w = s[f"{prefix}.conv.weight"]
        groups = x.shape[1] // w.shape[1]
        y = bn(_conv_ref(x, w, stride, w.shape[2] // 2 if w.shape[2] == 3 else 0, groups), f"{prefix}.bn")
        if act:
            a = s[f"{prefix}.prelu.weight"].reshape(1, -1, 1, 1)
            y = np.where(y > 0, y, a * y)
        return y

    x = image.astype(np.float64)
    for kind, prefix, opts in layout(state):
        if kind in ("conv_block", "linear_block"):
            x = blk(x, prefix, opts["stride"], kind == "conv_block")
        elif kind == "depth_wise":
            y = blk(x, f"{prefix}.conv", 1, True)
            y = blk(y, f"{prefix}.conv_dw", opts["stride"], True)
            y = blk(y, f"{prefix}.project", 1, False)
            if opts["se"]:
                se = f"{prefix}.se_module"
                z = y.mean(axis=(2, 3), keepdims=True)
                z = bn(_conv_ref(z, s[f"{se}.fc1.weight"], 1, 0, 1), f"{se}.bn1")
                z = np.maximum(z, 0)
                z = bn(_conv_ref(z, s[f"{se}.fc2.weight"], 1, 0, 1), f"{se}.bn2")
                y = y / (1 + np.exp(-z))
            x = x + y if opts["residual"] else y
        else:
            x = x.reshape(1, -1) @ s["linear.weight"].T
            x = bn(x, "bn")
            x = x @ s["prob.weight"].T
    e = np.exp(x - x.max())
    return e / e.sum()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("source", type=Path, help="folder with the two .pth files")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    parser.add_argument("--check", type=Path, nargs="*", default=[], help="images to compare the outputs on")
    args = parser.parse_args(argv)
    import hashlib

    for source_name, (out_name, _scale) in MODELS.items():
        source = args.source / source_name
        state = read_state_dict(source)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        doc = (f"MiniFASNet from {source_name} (sha256 {digest}), minivision-ai/Silent-Face-Anti-Spoofing, "
               "Copyright 2020 Minivision, Apache-2.0. Converted by FaceGate's facegate_dev/minifasnet_onnx.py "
               "(batch norms folded, softmax appended). Input 1x3x80x80 BGR 0-255; output softmax, class 1 live.")
        model = build_onnx(state, out_name.removesuffix(".onnx"), doc)
        out = args.out / out_name
        out.write_bytes(model.SerializeToString())
        print(f"{out}: {len(state)} tensors from {source_name} ({digest}); "
              f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")
        if args.check:
            import cv2

            net = cv2.dnn.readNetFromONNX(str(out))
            rng = np.random.default_rng(0)
            inputs = [cv2.resize(cv2.imread(str(p)), (80, 80)).transpose(2, 0, 1)[None].astype(np.float32)
                      for p in args.check]
            inputs += [rng.uniform(0, 255, (1, 3, 80, 80)).astype(np.float32) for _ in range(3)]
            worst = 0.0
            for blob in inputs:
                net.setInput(blob)
                got = net.forward().reshape(-1)
                want = reference_forward(state, blob).reshape(-1)
                worst = max(worst, float(np.abs(got - want).max()))
                print(f"  opencv {np.round(got, 6)}  numpy-reference {np.round(want, 6)}")
            print(f"  largest difference in any probability: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
