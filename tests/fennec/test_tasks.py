"""Task data: folders, CSV manifests, arrays, sampling, RGB conversion and bad inputs."""
from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from _image_tasks import digits_task, photos_task, truncate, write_folder
from PIL import Image

from fennec.cards import TaskCard
from fennec.errors import InputError
from fennec.tasks import SkippedImagesWarning, Task, load_task


@pytest.fixture()
def digits_dir(tmp_path):
    return write_folder(digits_task([1, 2, 10 - 3], per_class=4), tmp_path / "digits")


def test_folder_layout_classes_and_labels(digits_dir):
    task = load_task(digits_dir)
    assert task.name == "digits" and task.source == str(digits_dir)
    assert task.label_names == ("1", "2", "7")
    assert task.n_images == 12 and task.n_classes == 3 and task.is_lazy
    for path, label in zip(task.images, task.labels):
        assert path.parent.name == task.label_names[label]
    assert task.load_image(0).mode == "RGB"
    card = task.to_card()
    assert isinstance(card, TaskCard) and card.n_train == 12 and card.image_dir == str(digits_dir)


def test_class_folders_sort_numbers_numerically(tmp_path):
    for name in ["10", "2", "b", "a"]:
        (tmp_path / name).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / name / "x.png")
    assert load_task(tmp_path).label_names == ("2", "10", "a", "b")


def test_grayscale_rgba_and_palette_become_rgb(tmp_path):
    (tmp_path / "c").mkdir()
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 0] = 200  # red, fully transparent: composited on white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "c" / "rgba.png")
    Image.fromarray(np.full((6, 6), 90, np.uint8), "L").save(tmp_path / "c" / "gray.png")
    Image.fromarray(np.full((6, 6), 90, np.uint8), "L").convert("P").save(tmp_path / "c" / "pal.gif")
    task = load_task(tmp_path)
    images = {p.name: task.load_image(i) for i, p in enumerate(task.images)}
    assert all(im.mode == "RGB" and im.size == (6, 6) for im in images.values())
    assert np.asarray(images["rgba.png"]).min() == 255
    assert np.asarray(images["gray.png"])[0, 0].tolist() == [90, 90, 90]


def test_sampling_caps_seed_and_class_counts():
    task = digits_task(range(4), per_class=20)
    small = task.sample(max_per_class=5, seed=0)
    assert np.bincount(small.labels).tolist() == [5, 5, 5, 5]
    assert small.class_counts == (20, 20, 20, 20) and small.n_total == 80
    again = task.sample(max_per_class=5, seed=0)
    other = task.sample(max_per_class=5, seed=1)
    assert small.content_hash == again.content_hash != other.content_hash
    capped = task.sample(max_per_class=50, max_images=30)
    assert np.bincount(capped.labels).tolist() == [7, 7, 7, 7]  # the largest equal cap within 30
    assert task.sample(max_per_class=None, max_images=None) is task


def test_sampling_more_classes_than_images_keeps_one_per_class():
    task = digits_task(range(10), per_class=3)
    sampled = task.sample(max_per_class=50, max_images=4, seed=3)
    assert sampled.n_images == 4 and len(set(sampled.labels.tolist())) == 4


def test_csv_manifest_relative_paths(digits_dir, tmp_path):
    rows = ["path,label"] + [f"digits/{p.parent.name}/{p.name},{p.parent.name}"
                             for p in sorted(digits_dir.rglob("*.png"))]
    (tmp_path / "task.csv").write_text("\n".join(rows) + "\n")
    task = load_task(tmp_path / "task.csv")
    assert task.name == "task" and task.label_names == ("1", "2", "7") and task.n_images == 12
    assert task.content_hash == load_task(digits_dir).content_hash  # same files, same order, same labels


def test_csv_with_missing_paths_names_rows(digits_dir, tmp_path):
    first = next(digits_dir.rglob("*.png"))
    (tmp_path / "bad.csv").write_text(f"path,label\n{first},a\ngone.png,b\nalso_gone.jpg,b\n")
    with pytest.raises(InputError, match=r"2 of 3 image paths .* do not exist \(row 3: .*gone.png") as info:
        load_task(tmp_path / "bad.csv")
    assert "relative to the CSV's folder" in info.value.hint


@pytest.mark.parametrize("content, message", [
    ("file,class\na.png,x\n", "columns `path` and `label`"),
    ("path,label\n", "lists no images"),
    ("path,label\na.png,\n", "Row 2 .* empty"),
])
def test_csv_format_errors(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(InputError, match=message):
        load_task(tmp_path / "m.csv")


def test_missing_path_and_wrong_file_type(tmp_path):
    with pytest.raises(InputError, match="does not exist") as info:
        load_task(tmp_path / "nope")
    assert "<class name>" in info.value.hint
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not a .csv manifest"):
        load_task(tmp_path / "x.txt")


def test_empty_folder_and_loose_images(tmp_path):
    with pytest.raises(InputError, match="No images found .*no class folders"):
        load_task(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(InputError, match="1 class folder"):
        load_task(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "loose.png")
    with pytest.raises(InputError, match="directly but no class sub-folders") as info:
        load_task(tmp_path)
    assert "<class name>" in info.value.hint


def test_single_class_loads_but_metrics_refuse(tmp_path):
    write_folder(digits_task([3], per_class=3), tmp_path)
    task = load_task(tmp_path)
    assert task.n_classes == 1
    with pytest.raises(InputError, match="1 class.*at least 2"):
        task.require_classes(2, purpose="scoring")


def test_non_image_and_truncated_files_are_skipped_with_one_warning_each_pass(digits_dir):
    (digits_dir / "1" / "notes.txt").write_text("not an image")
    (digits_dir / "2" / "fake.jpg").write_text("not an image either")
    good = next((digits_dir / "7").glob("*.png"))
    Image.open(good).convert("RGB").resize((64, 64)).save(digits_dir / "7" / "cut.jpg", quality=95)
    truncate(digits_dir / "7" / "cut.jpg")
    with pytest.warns(SkippedImagesWarning, match=r"1 file\(s\) that are not images .*notes.txt") as loaded:
        task = load_task(digits_dir)
    assert len(loaded) == 1 and task.n_images == 14
    with pytest.warns(SkippedImagesWarning) as passed:
        kept = np.concatenate([idx for idx, _ in task.iter_batches(5)])
    assert len(passed) == 1
    assert "Skipped 2 unreadable image(s)" in str(passed[0].message)
    assert "fake.jpg" in str(passed[0].message) and "cut.jpg" in str(passed[0].message)
    assert len(kept) == 12
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second pass skips the known-bad files quietly
        assert len(np.concatenate([idx for idx, _ in task.iter_batches(5)])) == 12
    with pytest.raises(InputError, match="Cannot read image .*fake.jpg"):
        task.load_image(int(np.flatnonzero([p.name == "fake.jpg" for p in task.images])[0]))


def test_content_hash_follows_bytes_not_location(digits_dir, tmp_path):
    copy = shutil.copytree(digits_dir, tmp_path / "elsewhere")
    assert load_task(copy).content_hash == load_task(digits_dir).content_hash
    victim = next(copy.rglob("*.png"))
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(victim)
    assert load_task(copy).content_hash != load_task(digits_dir).content_hash


def test_from_arrays_inputs_and_errors():
    floats = np.random.default_rng(0).random((3, 5, 5, 3))
    task = Task.from_arrays(floats, ["b", "a", "b"])
    assert task.label_names == ("a", "b") and task.labels.tolist() == [1, 0, 1]
    assert np.asarray(task.load_image(0)).max() > 200  # [0, 1] floats are scaled to bytes
    assert Task.from_arrays(np.zeros((2, 4, 4), np.uint8), [0, 3]).label_names == ("0", "1", "2", "3")
    with pytest.raises(InputError, match=r"shape \(H, W\)"):
        Task.from_arrays(np.zeros((2, 4, 4, 2)), [0, 1])
    with pytest.raises(InputError, match="one label per image"):
        Task.from_arrays(np.zeros((2, 4, 4)), [0, 1, 1])
    with pytest.raises(InputError, match="not in `label_names`"):
        Task.from_arrays(np.zeros((2, 4, 4)), ["a", "z"], label_names=["a", "b"])


def test_photo_crops_are_real_rgb_images():
    task = photos_task(per_class=2)
    assert task.label_names == ("astronaut", "chelsea", "coffee", "rocket")
    assert np.asarray(task.load_image(0)).std() > 5  # real content, not a blank crop
