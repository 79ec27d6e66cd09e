"""Write fuzz_ops' seed corpus (tests/fuzz/corpus/ops/).

Each seed is a case in fuzz_ops.c's input layout: ordinary valid calls of
every op in every float dtype, and the attack review's cases (issue 12):
huge kernel/padding/stride/dilation, empty tensors with huge dims, huge
outputs from tiny inputs, the mask form of max_unpool with a big window.
Params are written in the literal-text mode, so a seed reads like the
request it stands for. Run from the repository root:
    python3 tests/fuzz/make_ops_seeds.py
"""
import os

OUT = os.path.join("tests", "fuzz", "corpus", "ops")

# registry order (kernels/registry.c): op -> (min_spatial, params, inputs)
OPS = {
    "max_unpool": (1, ["kernel_size", "stride", "padding", "output_size", "index_layout", "layout",
                       "pads"], ["x", "indices", "mask"]),
    "nearest_unpool": (1, ["scale_factor", "output_size", "mode", "layout"], ["x"]),
    "fractional_max_unpool": (1, ["scale_factor", "output_size", "coordinate_transform",
                                  "index_layout", "layout"], ["x", "indices"]),
    "conv_transpose": (1, ["stride", "padding", "output_padding", "dilation", "groups",
                           "output_size", "layout", "pads", "auto_pad", "output_shape"],
                       ["x", "weight", "bias"]),
    "max_pool": (1, ["kernel_size", "stride", "padding", "dilation", "ceil_mode",
                     "index_layout", "layout", "pads", "auto_pad", "storage_order"], ["x"]),
    "fractional_max_pool": (2, ["kernel_size", "output_size", "output_ratio", "seed",
                                "index_layout", "layout"], ["x", "samples"]),
    "resize": (1, ["scales", "sizes", "axes", "mode", "coordinate_transformation_mode",
                   "nearest_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value",
                   "antialias", "keep_aspect_ratio_policy", "layout"], ["x", "roi"]),
    "pixel_shuffle": (2, ["upscale_factor", "mode", "layout"], ["x"]),
    "pixel_unshuffle": (2, ["downscale_factor", "mode", "layout"], ["x"]),
}
OP_INDEX = {name: i for i, name in enumerate(OPS)}
DTYPES = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
ANSWERS = {"json": 0, "b64": 1, "npy": 2, "safetensors": 3, "kserve": 4, "kserve_bin": 5,
           "finish": 6}
# fuzz_ops.c HUGE_DIMS, by value
HUGE = [2**31, 2**31 - 1, 2**32, 2**40, 2**53, 2**62, 2**62 + 1, 2**63 - 1, 2**63 - 2,
        10**18, 3037000500, 65536, 12579921, 67108864, 2**20, 2**24]


def dim(v):
    if 0 <= v < 224:
        return bytes([v])
    return bytes([224 + HUGE.index(v)])


def seed(op, x, params=None, inputs=None, dtype="float32", answer="json", chunks=3, rng=7):
    """inputs: {name: "derived" | "derived:REL" | (rank-dims list)}; indices
    and masks may add ":int32" or a mask dtype byte via a tuple."""
    min_sp, pnames, inames = OPS[op]
    params = params or {}
    inputs = inputs or {}
    b = bytes([OP_INDEX[op], DTYPES[dtype] | ANSWERS[answer] << 2 | (chunks - 1) << 5,
               len(x) - 2 - min_sp])
    b += rng.to_bytes(8, "big")
    b += b"".join(dim(v) for v in x)
    for name in pnames:
        if name in params:
            text = str(params[name]).encode()
            assert len(text) < 32, text
            b += bytes([3, len(text)]) + text
        else:
            b += b"\0"
    for name in inames[1:]:
        spec = inputs.get(name)
        if spec is None:
            b += b"\0"
        elif isinstance(spec, int):        # derived, with this relation (1..5)
            b += bytes([spec])
            if name == "mask":
                b += b"\0"                  # mask dtype: float32
        else:                               # explicit dims
            rel, dims, extra = spec
            b += bytes([rel]) + extra + bytes([len(dims) - 1]) + b"".join(dim(v) for v in dims)
    return b


def cases():
    E62, E61, E40 = 2**62, 2**61, 2**40
    yield "max_pool_basic", seed("max_pool", [1, 2, 6, 6], {"kernel_size": 2})
    yield "max_pool_3d_f64", seed("max_pool", [1, 1, 4, 4, 4], {"kernel_size": 2, "stride": 1,
                                  "padding": 1, "ceil_mode": "true"}, dtype="float64")
    yield "max_pool_dilation_f16", seed("max_pool", [2, 1, 9], {"kernel_size": 3, "dilation": 2},
                                        dtype="float16", answer="npy")
    yield "max_unpool_indices", seed("max_unpool", [1, 2, 3, 3], {"kernel_size": 2},
                                     {"indices": 1})
    yield "max_unpool_indices_i32_bf16", seed("max_unpool", [1, 1, 4], {"kernel_size": 2},
                                              {"indices": 9}, dtype="bfloat16")
    yield "max_unpool_mask", seed("max_unpool", [1, 1, 4, 4], {"kernel_size": 2},
                                  {"mask": 1}, answer="b64")
    yield "nearest_basic", seed("nearest_unpool", [1, 1, 3, 3], {"scale_factor": 2})
    yield "nearest_exact_f16", seed("nearest_unpool", [1, 2, 5], {"scale_factor": 1.5,
                                    "mode": "nearest-exact"}, dtype="float16")
    yield "fmu_interp", seed("fractional_max_unpool", [1, 1, 3, 3], {"scale_factor": "1.5,2"})
    yield "fmu_half_pixel_3d", seed("fractional_max_unpool", [1, 1, 2, 3, 2], {
        "output_size": "3,5,3", "coordinate_transform": "half_pixel"}, dtype="float64")
    yield "fmu_scatter", seed("fractional_max_unpool", [1, 1, 2, 2], {"output_size": "4,4"},
                              {"indices": 1})
    yield "conv_basic", seed("conv_transpose", [1, 1, 4, 4], {"stride": 2}, {"weight": 3})
    yield "conv_bias_groups", seed("conv_transpose", [1, 2, 5], {"groups": 2, "padding": 1,
                                   "output_padding": 1, "stride": 2},
                                   {"weight": 3, "bias": 1}, dtype="float64")
    yield "conv_channels_last", seed("conv_transpose", [1, 4, 4, 2], {"layout": "channels_last"},
                                     {"weight": 4}, dtype="bfloat16")
    yield "fmp_basic", seed("fractional_max_pool", [1, 1, 8, 8], {"kernel_size": 2,
                            "output_size": "4,4"}, {"samples": 1})
    yield "fmp_ratio_seed", seed("fractional_max_pool", [1, 2, 7, 9], {"kernel_size": 2,
                                 "output_ratio": 0.5, "seed": 3})
    # 65536 is cut to 4096 (fuzz_ops keeps tensors with data at 4096 elements)
    yield "fmp_wide_f32", seed("fractional_max_pool", [1, 1, 1, 65536], {"kernel_size": 1,
                               "output_size": "1,4095"}, {"samples": 1})

    yield "resize_nearest", seed("resize", [1, 2, 3, 4], {"scales": "1,1,2,2"})
    yield "resize_linear_axes", seed("resize", [1, 2, 5, 4], {"sizes": "9,3", "axes": "2,-1",
                                     "mode": "linear"}, dtype="float64")
    yield "resize_cubic_ac", seed("resize", [2, 1, 6, 5], {"scales": "1,1,1.5,0.5", "mode": "cubic",
                                  "coordinate_transformation_mode": "align_corners"})
    yield "resize_cubic_aa_exclude", seed("resize", [1, 1, 16, 9], {"sizes": "3,2", "axes": "2,3",
                                          "mode": "cubic", "antialias": 1, "exclude_outside": 1,
                                          "cubic_coeff_a": -0.5})
    yield "resize_tf_crop", seed("resize", [1, 1, 4, 4], {"sizes": "3,3", "axes": "2,3",
                                 "coordinate_transformation_mode": "tf_crop_and_resize",
                                 "extrapolation_value": 9, "mode": "linear"}, {"roi": 2})
    yield "resize_aspect_5d_last", seed("resize", [1, 2, 3, 4, 2], {"sizes": "6,6", "axes": "1,2",
                                        "keep_aspect_ratio_policy": "not_smaller",
                                        "layout": "channels_last"}, dtype="bfloat16")
    yield "resize_scale_1e300", seed("resize", [1, 1, 2, 2], {"scales": "1,1,1e300,1"})
    yield "resize_aa_tiny_scale", seed("resize", [1, 1, 65536, 1], {"sizes": "1,1", "axes": "2,3",
                                       "mode": "linear", "antialias": 1})
    yield "resize_empty_huge", seed("resize", [0, 1, E40, E40], {"scales": "1,1,4,4",
                                    "mode": "cubic"})

    # the review's cases
    yield "hang_max_pool_k2e18_p1e18", seed("max_pool", [1, 1, 1, 1], {
        "kernel_size": 2000000000000000000, "padding": 1000000000000000000})
    yield "crash_conv_stride8e18", seed("conv_transpose", [1, 1, 1], {
        "stride": 8000000000000000000, "dilation": E62, "padding": E61}, {"weight": 3})
    yield "crash_max_pool_k2e62", seed("max_pool", [1, 1, 2, 2], {
        "kernel_size": f"1,{E62}", "padding": f"0,{E61}", "stride": "1,8000000000000000000"})
    for op, params, inputs in [
            ("max_pool", {"kernel_size": 1}, {}),
            ("max_unpool", {"kernel_size": 2}, {"indices": 1}),
            ("conv_transpose", {}, {"weight": 3}),
            ("fractional_max_pool", {"kernel_size": 1, "output_size": 1}, {}),
            ("nearest_unpool", {"scale_factor": 2}, {}),
            ("fractional_max_unpool", {"scale_factor": 2}, {})]:
        yield f"empty_huge_{op}", seed(op, [0, 1, E40, E40], params, inputs)
        yield f"empty_huge_{op}_f16_last", seed(op, [0, E40, E40, 1], dict(params,
                                                layout="channels_last"), inputs, dtype="float16")
        yield f"empty_huge_{op}_bf16", seed(op, [0, 1, 2**63 - 1, 2**31], params, inputs,
                                            dtype="bfloat16", answer="npy")
        yield f"empty_spatial_{op}_f64", seed(op, [1, 1, 0, 2**62], params, inputs,
                                              dtype="float64", answer="finish")
    yield "nearest_1_to_67108864", seed("nearest_unpool", [1, 1, 1], {"output_size": 67108864})
    yield "mask_max_unpool_big_window", seed("max_unpool", [1, 1, 8, 8], {"kernel_size": 57,
                                             "stride": 1}, {"mask": 1})
    yield "fmu_huge_output", seed("fractional_max_unpool", [1, 1, 1], {"output_size": 2**31})
    yield "fmu_scale_1e300", seed("fractional_max_unpool", [1, 1, 1, 1], {"scale_factor": "1e300"})
    # pixel shuffles and the ONNX padding params (rng=0 makes x int8 where
    # the op takes integer images, see fuzz_ops.c x_dtype)
    yield "pixel_shuffle_basic", seed("pixel_shuffle", [1, 8, 3, 4], {"upscale_factor": 2})
    yield "pixel_shuffle_dcr_i8", seed("pixel_shuffle", [2, 9, 2, 3], {"upscale_factor": 3,
                                       "mode": "dcr"}, rng=0)
    yield "pixel_shuffle_last_f16", seed("pixel_shuffle", [1, 3, 2, 4], {"upscale_factor": 1,
                                         "layout": "channels_last"}, dtype="float16")
    yield "pixel_unshuffle_basic", seed("pixel_unshuffle", [1, 2, 4, 6], {"downscale_factor": 2})
    yield "pixel_unshuffle_dcr_f64", seed("pixel_unshuffle", [1, 1, 6, 6], {
        "downscale_factor": 3, "mode": "dcr"}, dtype="float64")
    yield "pixel_shuffle_r2e9_tiny", seed("pixel_shuffle", [1, 1, 1, 1], {
        "upscale_factor": 2**31 - 1})
    yield "pixel_unshuffle_empty_huge", seed("pixel_unshuffle", [0, E40, 2**20, 2**20], {
        "downscale_factor": 2**20})
    yield "max_pool_pads", seed("max_pool", [1, 2, 6, 7], {"kernel_size": 3, "stride": 2,
                                "pads": "2,0,1,2"})
    yield "max_pool_pads_huge", seed("max_pool", [1, 1, 3], {"kernel_size": 1,
                                     "stride": 2**31 - 1, "pads": f"{2**31 - 1},{2**31 - 1}"})
    yield "max_pool_auto_pad_so", seed("max_pool", [1, 1, 5, 5], {"kernel_size": 2,
                                       "auto_pad": "same_lower", "storage_order": 1}, rng=0)
    yield "max_unpool_pads", seed("max_unpool", [1, 1, 3, 3], {"kernel_size": 2,
                                  "pads": "1,0,0,1"}, {"indices": 1})
    yield "conv_output_shape", seed("conv_transpose", [1, 1, 3, 3], {"stride": 2,
                                    "output_shape": "8,7"}, {"weight": 3})
    yield "conv_auto_pad_pads", seed("conv_transpose", [1, 1, 4], {"stride": 3,
                                     "auto_pad": "same_upper"}, {"weight": 3})
    yield "conv_output_shape_huge", seed("conv_transpose", [1, 1, 1], {
        "output_shape": 10**15}, {"weight": 3})
    yield "max_unpool_output_size_huge", seed("max_unpool", [1, 1, 1], {"kernel_size": E62,
                                              "output_size": E62}, {"indices": 1})


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in cases():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
