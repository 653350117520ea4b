"""Input data: seeded random arrays, .npy/.npz files matched by name, image files, recipe round trip."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from PIL import Image

from tests.onnx_factory import make_model, tensor
from workbench.core.errors import WorkbenchError
from workbench.core.compare.inputs import ImageSource, InputSpec, load_arrays, make_inputs, random_inputs
from workbench.core.model.loading import LoadedModel
from workbench.core.recipe import Recipe, load_recipe, save_recipe


def two_input_model():
    nodes = [helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["ids_f"], ["s"], keepdims=0),
             helper.make_node("Add", ["image", "s"], ["y"])]
    return LoadedModel.from_proto(make_model(
        nodes, [tensor("image", ["N", 3, "H", "W"]), tensor("ids", [4], TensorProto.INT64)],
        [tensor("y", ["N", 3, "H", "W"])]))


def image_model(shape, dtype=TensorProto.FLOAT):
    return LoadedModel.from_proto(make_model([helper.make_node("Identity", ["img"], ["y"])],
                                             [tensor("img", shape, dtype)], [tensor("y", shape, dtype)]))


def test_random_inputs_are_seeded_and_typed():
    model = two_input_model()
    first = random_inputs(model, seed=3, shapes={"image": (2, 3, 8, 8)}, value_ranges={"image": (-1, 1)})
    again = random_inputs(model, seed=3, shapes={"image": (2, 3, 8, 8)}, value_ranges={"image": (-1, 1)})
    assert first["image"].shape == (2, 3, 8, 8) and first["image"].dtype == np.float32
    assert first["image"].min() >= -1 and first["image"].max() <= 1 and first["image"].min() < 0
    assert first["ids"].dtype == np.int64 and first["ids"].shape == (4,)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["image"], random_inputs(model, seed=4, shapes={"image": (2, 3, 8, 8)})["image"])
    assert random_inputs(model, dtypes={"image": "float16"})["image"].dtype == np.float16


def test_random_inputs_refuse_unknown_names_and_wrong_rank():
    model = two_input_model()
    with pytest.raises(WorkbenchError, match="Unknown input name.*imgae") as info:
        random_inputs(model, shapes={"imgae": (1, 3, 4, 4)})
    assert "image, ids" in info.value.hint
    with pytest.raises(WorkbenchError, match="rank 2"):
        random_inputs(model, shapes={"image": (1, 3)})
    with pytest.raises(WorkbenchError, match="static shape"):
        random_inputs(model, shapes={"ids": (5,)})


def test_npz_arrays_are_matched_by_name_and_cast_within_kind(tmp_path):
    model = two_input_model()
    image = np.random.default_rng(0).standard_normal((1, 3, 5, 5))  # float64: cast to the input's float32
    np.savez(tmp_path / "data.npz", image=image)
    prepared = make_inputs(model, InputSpec(seed=1, data_files=[str(tmp_path / "data.npz")]))
    assert prepared.arrays["image"].dtype == np.float32
    np.testing.assert_allclose(prepared.arrays["image"], image.astype(np.float32))
    assert prepared.sources == {"image": "data.npz", "ids": "random (seed 1)"}
    assert list(prepared.arrays) == ["image", "ids"]


def test_npz_with_unknown_name_or_wrong_kind_is_refused(tmp_path):
    model = two_input_model()
    np.savez(tmp_path / "typo.npz", imgae=np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(WorkbenchError, match="unknown input name.*imgae") as info:
        load_arrays(tmp_path / "typo.npz", model)
    assert "matched by name" in info.value.hint
    np.savez(tmp_path / "kind.npz", ids=np.zeros(4, np.float32))
    with pytest.raises(WorkbenchError, match="'ids' is float32, but the model's input is int64"):
        load_arrays(tmp_path / "kind.npz", model)
    np.savez(tmp_path / "shape.npz", ids=np.zeros(5, np.int64))
    with pytest.raises(WorkbenchError, match="does not match the model's static shape"):
        load_arrays(tmp_path / "shape.npz", model)


def test_npy_is_named_by_stem_or_the_only_input(tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(4, dtype=np.int32))
    loaded = load_arrays(tmp_path / "ids.npy", two_input_model())
    assert loaded["ids"].dtype == np.int64 and loaded["ids"].tolist() == [0, 1, 2, 3]
    np.save(tmp_path / "anything.npy", np.ones((1, 3, 4, 4), np.float32))
    assert "img" in load_arrays(tmp_path / "anything.npy", image_model([1, 3, 4, 4]))
    with pytest.raises(WorkbenchError, match="matches none of them"):
        load_arrays(tmp_path / "anything.npy", two_input_model())


def test_pickled_and_foreign_files_are_refused_without_running_them(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WorkbenchError, match="objects.npy is not a NumPy .npy/.npz file that can be read safely"):
        load_arrays(tmp_path / "objects.npy", image_model([1]))
    (tmp_path / "notes.npz").write_text("hello")
    with pytest.raises(WorkbenchError, match="notes.npz is not a NumPy"):
        load_arrays(tmp_path / "notes.npz", image_model([1]))
    with pytest.raises(WorkbenchError, match="not found"):
        load_arrays(tmp_path / "missing.npz", image_model([1]))


def _write_image(path, height=4, width=6):
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = 255  # pure red
    pixels[0, 0] = (0, 0, 255)  # one blue pixel
    Image.fromarray(pixels, "RGB").save(path)
    return pixels


def test_images_to_nchw_with_scale_mean_std(tmp_path):
    _write_image(tmp_path / "a.png")
    _write_image(tmp_path / "b.png")
    source = ImageSource([str(tmp_path / "a.png"), str(tmp_path / "b.png")], mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    batch = make_inputs(image_model([2, 3, 4, 6]), InputSpec(images={"img": source})).arrays["img"]
    assert batch.shape == (2, 3, 4, 6) and batch.dtype == np.float32
    assert batch[0, 0, 1, 1] == pytest.approx(1.0) and batch[0, 1, 1, 1] == pytest.approx(-1.0)  # red: R=1, G=-1
    assert batch[0, 2, 0, 0] == pytest.approx(1.0) and batch[0, 0, 0, 0] == pytest.approx(-1.0)  # the blue pixel


def test_images_resize_nhwc_bgr_and_uint8(tmp_path):
    _write_image(tmp_path / "a.png", 10, 12)
    nhwc = make_inputs(image_model([1, 5, 6, 3]),
                       InputSpec(images={"img": ImageSource([str(tmp_path / "a.png")], color="BGR")})).arrays["img"]
    assert nhwc.shape == (1, 5, 6, 3)  # layout "auto" finds the channels last; resized to 5×6
    assert nhwc[0, 3, 3, 2] == pytest.approx(1.0) and nhwc[0, 3, 3, 0] == pytest.approx(0.0)  # BGR: red is last
    raw = make_inputs(image_model([1, 3, 10, 12], TensorProto.UINT8),
                      InputSpec(images={"img": ImageSource([str(tmp_path / "a.png")])})).arrays["img"]
    assert raw.dtype == np.uint8 and raw[0, 0, 5, 5] == 255  # integer inputs are not scaled


def test_bad_images_get_clear_errors(tmp_path):
    (tmp_path / "fake.png").write_text("not an image")
    model = image_model([1, 3, 4, 4])
    with pytest.raises(WorkbenchError, match="fake.png is not an image"):
        make_inputs(model, InputSpec(images={"img": ImageSource([str(tmp_path / "fake.png")])}))
    _write_image(tmp_path / "a.png")
    with pytest.raises(WorkbenchError, match=r"2 image\(s\) give a batch of shape \[2, 3, 4, 4\].*static shape"):
        make_inputs(model, InputSpec(images={"img": ImageSource([str(tmp_path / "a.png")] * 2)}))
    with pytest.raises(WorkbenchError, match="Unknown input name.*in the image settings"):
        make_inputs(model, InputSpec(images={"image": ImageSource([str(tmp_path / "a.png")])}))


def test_input_spec_round_trips_through_the_recipe(tmp_path):
    _write_image(tmp_path / "a.png")
    spec = InputSpec(seed=7, shapes={"image": [1, 3, 4, 6]}, value_ranges={"image": (-2.0, 2.0)},
                     dtypes={"image": "float32"}, data_files=[],
                     images={"image": ImageSource([str(tmp_path / "a.png")], layout="NCHW", size=(4, 6),
                                                  scale=0.5, mean=(1.0, 2.0, 3.0), std=(2.0, 2.0, 2.0))})
    save_recipe(Recipe(inputs=spec.to_dict()), tmp_path / "r.toml")
    again = InputSpec.from_dict(load_recipe(tmp_path / "r.toml").inputs)
    assert again == spec
    model = two_input_model()
    first, second = make_inputs(model, spec), make_inputs(model, again)
    assert all(np.array_equal(first.arrays[k], second.arrays[k]) for k in first.arrays)
    with pytest.raises(WorkbenchError, match=r"\[inputs\] section is malformed"):
        InputSpec.from_dict({"shapes": {"image": "abc"}})


def test_random_shapes_from_a_recipe_profile():
    profiles = [{"shapes": {"image": {"min": [1, 3, 4, 4], "opt": [2, 3, 8, 8], "max": [4, 3, 16, 16]}}}]
    model = two_input_model()
    arrays = make_inputs(model, InputSpec(profile=0), profiles).arrays
    assert arrays["image"].shape == (2, 3, 8, 8)
    spec = InputSpec(profile=0, profile_shape="max", shapes={"image": [1, 3, 5, 5]})
    assert make_inputs(model, spec, profiles).arrays["image"].shape == (1, 3, 5, 5)  # explicit shapes win
    assert InputSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(WorkbenchError, match="profile 2, but there are 1 profile"):
        make_inputs(model, InputSpec(profile=1), profiles)
