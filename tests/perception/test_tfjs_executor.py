"""lavr's TF.js executor on small graphs the tests build: weight decoding, node ordering, each op's TF semantics
(checked against plain numpy written from TF's definitions), the pitfalls that change detections, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from tfjs_graphs import DType, GraphBuilder

from lavr.errors import TfjsModelError, UnsupportedOp
from lavr.tfjs import load_graph_model, supported_ops

RNG = np.random.default_rng(7)


def run(builder: GraphBuilder, tmp_path, feeds, outputs, **save):
    model = load_graph_model(builder.save(tmp_path, **save))
    return {k: v.numpy() for k, v in model.run(feeds, outputs).items()}


# ---- numpy references, from TF's definitions ------------------------------------------------------------------
def np_conv(x, w, stride, pads):
    """NHWC x HWIO convolution with explicit (top, bottom, left, right) zero padding."""
    top, bottom, left, right = pads
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, cout = w.shape
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def np_legacy_resize(x, oh, ow):
    """TF's ResizeBilinear with align_corners=False, half_pixel_centers=False: source = i * in / out."""
    n, h, w, c = x.shape
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        sy = i * h / oh
        y0, fy = int(np.floor(sy)), sy - np.floor(sy)
        y1 = min(y0 + 1, h - 1)
        for j in range(ow):
            sx = j * w / ow
            x0, fx = int(np.floor(sx)), sx - np.floor(sx)
            x1 = min(x0 + 1, w - 1)
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * fx
            bottom = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * fx
            out[:, i, j] = top + (bottom - top) * fy
    return out


# ---- weights ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("quantize", [None, "float16", "uint8", "uint16"])
def test_weights_decode_every_storage(tmp_path, quantize):
    value = RNG.normal(size=(3, 5)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [3, 5])
    g.const("w", value, quantize=quantize)
    g.op("y", "AddV2", ["x", "w"])
    out = run(g, tmp_path, np.zeros((3, 5), np.float32), ["y"], shards=2)["y"]
    step = {None: 0, "float16": 2e-3 * np.abs(value).max(), "uint8": (value.max() - value.min()) / 255 / 2,
            "uint16": (value.max() - value.min()) / 65535 / 2}[quantize]
    assert np.abs(out - value).max() <= step + 1e-6
    if quantize == "float16":
        assert np.array_equal(out, value.astype(np.float16).astype(np.float32))


def test_uint8_quantised_int32_rounds_half_up(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [4], "DT_INT32")
    g.const("w", np.array([0, 1, 2, 3], np.int32), quantize="uint8")
    g.op("y", "AddV2", ["x", "w"])
    spec = g.weights[0][0]
    spec["quantization"].update(min=0.0, scale=0.5)
    g.weights[0] = (spec, bytes([0, 1, 2, 3]))  # decode to 0, 0.5, 1, 1.5: JavaScript's Math.round gives 0, 1, 1, 2
    out = run(g, tmp_path, np.zeros(4, np.int32), ["y"])["y"]
    assert out.tolist() == [0, 1, 1, 2] and out.dtype == np.int32


def test_short_shard_is_a_clear_error(tmp_path):
    g = GraphBuilder()
    g.const("w", np.ones(8, np.float32))
    path = g.save(tmp_path)
    (tmp_path / "model.shard1of1.bin").write_bytes(b"\0" * 10)
    with pytest.raises(TfjsModelError, match="shards end before weight 'w'"):
        load_graph_model(path)


# ---- graph ------------------------------------------------------------------------------------------------------
def test_nodes_listed_in_any_order_run_in_dependency_order(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [2])
    g.const("two", np.float32(2))
    g.op("a", "Mul", ["x", "two"])
    g.op("b", "Sub", ["a", "x"])
    g.op("c", "Mul", ["b", "a"])
    out = run(g, tmp_path, np.array([1.0, 3.0], np.float32), ["c"], reverse=True)["c"]
    assert out.tolist() == [2.0, 18.0]


def test_unknown_op_is_refused_at_load_naming_node_and_op(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [2])
    g.op("weird", "Conv3D", ["x"])
    with pytest.raises(UnsupportedOp) as err:
        load_graph_model(g.save(tmp_path))
    assert err.value.op == "Conv3D" and err.value.node == "weird" and err.value.attribute is None
    assert "Conv3D" in str(err.value) and "\n" not in str(err.value)


def test_unsupported_attribute_is_refused_naming_it(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [1, 4, 4, 1])
    g.const("w", np.ones((1, 1, 1, 1), np.float32))
    g.op("y", "Conv2D", ["x", "w"], strides=[1, 1, 1, 1], padding="SAME", data_format="NCHW")
    with pytest.raises(UnsupportedOp) as err:
        load_graph_model(g.save(tmp_path))
    assert (err.value.op, err.value.attribute) == ("Conv2D", "data_format")
    assert "data_format=NCHW" in str(err.value) and "\n" not in str(err.value)


def test_input_shape_and_names_are_checked(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [1, -1, 3])
    g.op("y", "Relu", ["x"])
    model = load_graph_model(g.save(tmp_path))
    assert model.run(np.ones((1, 7, 3), np.float32), ["y"])["y"].shape == (1, 7, 3)
    with pytest.raises(TfjsModelError, match=r"has shape \[1, 7, 4\]"):
        model.run(np.ones((1, 7, 4), np.float32), ["y"])
    with pytest.raises(TfjsModelError, match="no node named 'nope'"):
        model.run(np.ones((1, 7, 3), np.float32), ["nope"])
    with pytest.raises(TfjsModelError, match="input 'x' is missing"):
        model.run({"z": np.ones((1, 7, 3), np.float32)}, ["y"])


# ---- convolutions -----------------------------------------------------------------------------------------------
def test_same_padding_is_asymmetric_for_stride_two_on_even_sizes(tmp_path):
    x = RNG.normal(size=(1, 6, 6, 2)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 6, 6, 2])
    g.const("w", w)
    g.op("y", "Conv2D", ["x", "w"], strides=[1, 2, 2, 1], padding="SAME", data_format="NHWC")
    out = run(g, tmp_path, x, ["y"])["y"]
    # TF: out = ceil(6 / 2) = 3, total padding (3 - 1) * 2 + 3 - 6 = 1: none before, one after.
    np.testing.assert_allclose(out, np_conv(x, w, 2, (0, 1, 0, 1)), atol=1e-5)
    assert np.abs(out - np_conv(x, w, 2, (1, 0, 1, 0))).max() > 1e-2  # the symmetric guess differs


def test_fused_conv_with_bias_and_relu6_and_depthwise(tmp_path):
    x = RNG.normal(size=(1, 5, 5, 3)).astype(np.float32) * 4
    w = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)  # depthwise multiplier 2: 6 output channels
    b = RNG.normal(size=(6,)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 5, 5, 3])
    g.const("w", w)
    g.const("b", b)
    g.op("y", "FusedDepthwiseConv2dNative", ["x", "w", "b"], strides=[1, 1, 1, 1], padding="SAME",
         fused_ops=["BiasAdd", "Relu6"], data_format="NHWC")
    out = run(g, tmp_path, x, ["y"])["y"]
    expected = np.zeros((1, 5, 5, 6))
    for c in range(3):
        for m in range(2):  # TF's depthwise output channel c * multiplier + m
            expected[..., c * 2 + m] = np_conv(x[..., c:c + 1], w[:, :, c:c + 1, m:m + 1], 1, (1, 1, 1, 1))[..., 0]
    np.testing.assert_allclose(out, np.clip(expected + b, 0, 6), atol=1e-5)


def test_conv_followed_by_bias_add_gives_the_same_as_unfused(tmp_path):
    x = RNG.normal(size=(1, 4, 4, 2)).astype(np.float32)
    w = RNG.normal(size=(1, 1, 2, 3)).astype(np.float32)
    b = RNG.normal(size=(3,)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 4, 4, 2])
    g.const("w", w)
    g.const("b", b)
    g.op("conv", "Conv2D", ["x", "w"], strides=[1, 1, 1, 1], padding="VALID")
    g.op("sum", "Add", ["conv", "b"])
    out = run(g, tmp_path, x, ["sum", "conv"])
    np.testing.assert_allclose(out["conv"], np_conv(x, w, 1, (0, 0, 0, 0)), atol=1e-5)
    np.testing.assert_allclose(out["sum"], np_conv(x, w, 1, (0, 0, 0, 0)) + b, atol=1e-5)


def test_nchw_zero_pad_before_a_transposed_valid_conv_becomes_the_convs_padding(tmp_path):
    x = RNG.normal(size=(1, 2, 5, 6)).astype(np.float32)  # NCHW, as models converted from ONNX take it
    w = RNG.normal(size=(3, 3, 2, 3)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 2, 5, 6])
    g.const("pads", np.array([[0, 0], [0, 0], [1, 1], [2, 0]], np.int32))
    g.op("pad", "Pad", ["x", "pads"])
    g.const("perm", np.array([0, 2, 3, 1], np.int32))
    g.op("nhwc", "Transpose", ["pad", "perm"])
    g.const("w", w)
    g.op("conv", "Conv2D", ["nhwc", "w"], strides=[1, 1, 1, 1], padding="VALID")
    model = load_graph_model(g.save(tmp_path))
    out = model.run(x, ["conv"])["conv"].numpy()
    np.testing.assert_allclose(out, np_conv(x.transpose(0, 2, 3, 1), w, 1, (1, 1, 2, 0)), atol=1e-5)
    assert "pad" not in model._plan(("conv",)).steps  # the padded tensor is never built


def test_hard_swish_with_its_float16_sixth_is_one_op_with_the_same_result(tmp_path):
    x = np.linspace(-5, 5, 41, dtype=np.float32).reshape(1, 41)
    g = GraphBuilder()
    g.placeholder("x", [1, 41])
    g.const("sixth", np.float32(1 / 6), quantize="float16")
    g.const("three", np.float32(3), quantize="float16")
    g.op("scaled", "Mul", ["sixth", "x"])
    g.op("shifted", "Add", ["x", "three"])
    g.op("clipped", "Relu6", ["shifted"])
    g.op("y", "Mul", ["scaled", "clipped"])
    model = load_graph_model(g.save(tmp_path))
    sixth = np.float32(np.float16(1 / 6))
    np.testing.assert_allclose(model.run(x, ["y"])["y"].numpy(), (x * sixth) * np.clip(x + 3, 0, 6), rtol=1e-6,
                               atol=1e-6)
    assert model._plan(("y",)).steps == ["y"]


def test_same_max_pool_ignores_padding_and_avg_pool_counts_real_cells(tmp_path):
    x = -1.0 - RNG.random(size=(1, 4, 4, 1)).astype(np.float32)  # all negative: a zero pad would win a max
    g = GraphBuilder()
    g.placeholder("x", [1, 4, 4, 1])
    g.op("mx", "MaxPool", ["x"], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
    g.op("av", "AvgPool", ["x"], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
    out = run(g, tmp_path, x, ["mx", "av"])
    # windows (SAME, 4 -> 2, total padding 1, after): rows 0..2 and 2..3 (the row past the end is padding)
    for (i, rows) in enumerate([(0, 3), (2, 4)]):
        for (j, cols) in enumerate([(0, 3), (2, 4)]):
            window = x[0, rows[0]:rows[1], cols[0]:cols[1], 0]
            assert out["mx"][0, i, j, 0] == pytest.approx(window.max())
            assert out["av"][0, i, j, 0] == pytest.approx(window.mean(), abs=1e-6)


def test_fused_matmul_with_bias_and_relu(tmp_path):
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    w = RNG.normal(size=(3, 4)).astype(np.float32)
    b = RNG.normal(size=(4,)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("a", [2, 3])
    g.const("w", w)
    g.const("b", b)
    g.op("y", "_FusedMatMul", ["a", "w", "b"], transpose_a=False, transpose_b=False, fused_ops=["BiasAdd", "Relu"])
    np.testing.assert_allclose(run(g, tmp_path, a, ["y"])["y"], np.maximum(a @ w + b, 0), atol=1e-5)


# ---- resizing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(7, 5), (12, 8), (3, 2)])
def test_legacy_resize_bilinear_samples_at_i_times_in_over_out(tmp_path, size):
    x = RNG.normal(size=(1, 5, 4, 2)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 5, 4, 2])
    g.const("size", np.array(size, np.int32))
    g.op("y", "ResizeBilinear", ["x", "size"], align_corners=False, half_pixel_centers=False)
    out = run(g, tmp_path, x, ["y"])["y"]
    np.testing.assert_allclose(out, np_legacy_resize(x, *size), atol=1e-5)


def test_preprocessing_resize_matches_the_legacy_formula_exactly():
    import torch

    from lavr.tfjs.ops.nn import resize_bilinear

    x = RNG.integers(0, 256, size=(1, 9, 7, 3)).astype(np.float32)
    out = resize_bilinear(torch.from_numpy(x), (16, 5)).numpy()
    np.testing.assert_allclose(out, np_legacy_resize(x.astype(np.float64), 16, 5).astype(np.float32), atol=1e-4)


def test_half_pixel_resize_and_align_corners(tmp_path):
    x = RNG.normal(size=(1, 4, 4, 1)).astype(np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 4, 4, 1])
    g.const("size", np.array([8, 8], np.int32))
    g.op("half", "ResizeBilinear", ["x", "size"], align_corners=False, half_pixel_centers=True)
    g.op("corners", "ResizeBilinear", ["x", "size"], align_corners=True, half_pixel_centers=False)
    out = run(g, tmp_path, x, ["half", "corners"])
    # half-pixel: output 1 samples (1 + 0.5) * 4 / 8 - 0.5 = 0.25; align corners: output 1 samples 3 / 7
    expected_half = x[0, 0, 0, 0] + 0.25 * (x[0, 0, 1, 0] - x[0, 0, 0, 0])
    expected_corner = x[0, 0, 0, 0] + 3 / 7 * (x[0, 0, 1, 0] - x[0, 0, 0, 0])
    assert out["half"][0, 0, 1, 0] == pytest.approx(expected_half, abs=1e-5)
    assert out["corners"][0, 0, 1, 0] == pytest.approx(expected_corner, abs=1e-5)
    assert out["corners"][0, 7, 7, 0] == pytest.approx(x[0, 3, 3, 0], abs=1e-5)


# ---- selection and index arithmetic ----------------------------------------------------------------------------
def test_top_k_breaks_ties_towards_the_lower_index(tmp_path):
    x = np.array([[0.5, 0.9, 0.5, 0.9, 0.1, 0.5, 0.9]], np.float32)
    g = GraphBuilder()
    g.placeholder("x", [1, 7])
    g.const("k", np.int32(4))
    g.op("top", "TopKV2", ["x", "k"], sorted=True)
    out = run(g, tmp_path, x, ["top", "top:1"])
    assert out["top:1"].tolist() == [[1, 3, 6, 0]]  # the three 0.9s, then the first of the three 0.5s
    assert out["top"].tolist() == [[pytest.approx(0.9)] * 3 + [0.5]]
    g = GraphBuilder()
    g.placeholder("x", [2, 5])
    g.const("k", np.int32(3))
    g.op("top", "TopKV2", ["x", "k"], sorted=True)
    rows = np.array([[0.2, 0.9, 0.1, 0.9, 0.8], [0.3, 0.3, 0.3, 0.3, 0.3]], np.float32)
    out = run(g, tmp_path, rows, ["top:1"])  # ties inside the top k, and a row of ties
    assert out["top:1"].tolist() == [[1, 3, 4], [0, 1, 2]]


def test_floor_div_and_floor_mod_round_towards_minus_infinity(tmp_path):
    g = GraphBuilder()
    g.placeholder("a", [4], "DT_INT32")
    g.const("b", np.array([3, -3, 3, -3], np.int32))
    g.op("div", "FloorDiv", ["a", "b"])
    g.op("mod", "FloorMod", ["a", "b"])
    out = run(g, tmp_path, np.array([7, 7, -7, -7], np.int32), ["div", "mod"])
    assert out["div"].tolist() == [2, -3, -3, 2]
    assert out["mod"].tolist() == [1, -2, 2, -1]


@pytest.mark.parametrize(("spec", "expected"), [
    (dict(begin=[0, 1], end=[0, 3], strides=[1, 1], begin_mask=1, end_mask=1), lambda x: x[:, 1:3]),
    (dict(begin=[1, 0], end=[2, 0], strides=[1, 1], shrink_axis_mask=1, end_mask=2), lambda x: x[1, :]),
    (dict(begin=[0, 0], end=[0, 0], strides=[1, -1], begin_mask=3, end_mask=3), lambda x: x[:, ::-1]),
    (dict(begin=[0, 0, 0], end=[0, 0, 1], strides=[1, 1, 1], begin_mask=3, end_mask=3, new_axis_mask=2),
     lambda x: x[:, None, 0:1]),
    (dict(begin=[0, 2], end=[0, 0], strides=[1, 1], ellipsis_mask=1, end_mask=2), lambda x: x[..., 2:]),
    (dict(begin=[-1, 0], end=[0, 0], strides=[1, 1], shrink_axis_mask=1, end_mask=2), lambda x: x[-1]),
], ids=["slice", "shrink", "reverse", "new-axis", "ellipsis", "negative-shrink"])
def test_strided_slice_masks(tmp_path, spec, expected):
    x = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    g = GraphBuilder()
    g.placeholder("x", [3, 4, 2])
    for key in ("begin", "end", "strides"):
        g.const(key, np.array(spec[key], np.int32))
    masks = {k: v for k, v in spec.items() if k.endswith("_mask")}
    g.op("y", "StridedSlice", ["x", "begin", "end", "strides"], **masks)
    assert np.array_equal(run(g, tmp_path, x, ["y"])["y"], expected(x))


def test_gather_gather_nd_and_sparse_to_dense(tmp_path):
    params = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    g = GraphBuilder()
    g.placeholder("p", [2, 3, 4])
    g.const("idx", np.array([2, 0], np.int32))
    g.const("axis", np.int32(1))
    g.op("gathered", "GatherV2", ["p", "idx", "axis"], batch_dims=0)
    g.const("nd", np.array([[1, 2], [0, 0]], np.int32))
    g.op("gathered_nd", "GatherNd", ["p", "nd"])
    g.const("sp_idx", np.array([[0, 1], [2, 0]], np.int32))
    g.const("sp_shape", np.array([3, 2], np.int32))
    g.const("sp_val", np.array([5, 7], np.int32))
    g.const("sp_default", np.int32(-1))
    g.op("dense", "SparseToDense", ["sp_idx", "sp_shape", "sp_val", "sp_default"], validate_indices=True)
    g.const("empty_idx", np.zeros((0, 1), np.int32))
    g.const("empty_shape", np.array([3], np.int32))
    g.const("empty_val", np.zeros((0,), np.int32))
    g.const("zero", np.int32(0))
    g.op("zeros", "SparseToDense", ["empty_idx", "empty_shape", "empty_val", "zero"], validate_indices=True)
    out = run(g, tmp_path, params, ["gathered", "gathered_nd", "dense", "zeros"])
    assert np.array_equal(out["gathered"], params[:, [2, 0], :])
    assert np.array_equal(out["gathered_nd"], np.stack([params[1, 2], params[0, 0]]))
    assert out["dense"].tolist() == [[-1, 5], [-1, -1], [7, -1]]
    assert out["zeros"].tolist() == [0, 0, 0]


def test_shape_arithmetic_ops(tmp_path):
    g = GraphBuilder()
    g.placeholder("x", [2, -1], "DT_FLOAT")
    g.op("shape", "Shape", ["x"], out_type=DType("DT_INT32"))
    g.op("size", "Size", ["x"], out_type=DType("DT_INT32"))
    g.const("start", np.float32(0))
    g.const("delta", np.float32(0.5))
    g.op("n", "Cast", ["size"], SrcT=DType("DT_INT32"), DstT=DType("DT_FLOAT"))
    g.op("range", "Range", ["start", "n", "delta"], Tidx=DType("DT_FLOAT"))
    g.const("value", np.float32(3))
    g.op("filled", "Fill", ["shape", "value"])
    g.op("stacked", "Pack", ["size", "size"], axis=0)
    g.op("parts", "Unpack", ["x"], num=2, axis=0)
    g.const("mult", np.array([1, 2], np.int32))
    g.op("tiled", "Tile", ["x", "mult"])
    out = run(g, tmp_path, np.array([[1, 2, 3], [4, 5, 6]], np.float32),
              ["shape", "size", "range", "filled", "stacked", "parts:1", "tiled"])
    assert out["shape"].tolist() == [2, 3] and out["size"].tolist() == 6
    assert out["range"].tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5]
    assert out["filled"].tolist() == [[3] * 3] * 2 and out["stacked"].tolist() == [6, 6]
    assert out["parts:1"].tolist() == [4, 5, 6]
    assert out["tiled"].tolist() == [[1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]]


def test_the_ops_the_models_need_are_all_supported():
    needed = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative", "Conv2D", "Mul", "Add", "Relu6",
              "Mean", "Relu", "Sigmoid", "ConcatV2", "ResizeBilinear", "MaxPool", "Equal", "Cast", "Reshape", "TopKV2",
              "FloorDiv", "FloorMod", "ExpandDims", "GatherV2", "StridedSlice", "Sub", "Pad", "PadV2", "Transpose",
              "SplitV", "LeakyRelu", "AddV2", "SparseToDense", "GatherNd", "Softmax", "_FusedMatMul", "Minimum",
              "Maximum", "Identity"}
    assert needed <= set(supported_ops())
