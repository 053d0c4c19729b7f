"""The generic argument checks: every setting by its name, nested ones too, before any compute."""
import pytest

from weightmask import checks


@pytest.mark.parametrize("config,message", [
    ({"mask_steps": 0}, "'mask_steps' must be an integer >= 1, got 0"),
    ({"resnet_steps": 2.0}, "'resnet_steps' must be an integer >= 1"),
    ({"train_steps": True}, "'train_steps' must be an integer >= 1"),
    ({"resnet_lr": 0.0}, "'resnet_lr' must be a number > 0"),
    ({"lr": float("nan")}, "'lr' must be a number > 0"),
    ({"alpha": -1e-5}, "'alpha' must be a number >= 0"),
    ({"betas": [1e-4, -1.0]}, "'betas' must be a list of numbers >= 0"),
    ({"mask_batch": 0}, "'mask_batch' must be an integer >= 1"),
    ({"n_test": 0}, "'n_test' must be an integer >= 1"),
    ({"seeds": 0}, "'seeds' must be an integer >= 1"),
    ({"sizes": [42]}, "'sizes' must be layer sizes"),
    ({"sizes": [42, 0, 20]}, "'sizes' must be layer sizes"),
    ({"sweep_sizes": [[42, 8, 20], [42]]}, "'sweep_sizes' must be layer sizes"),
    ({"dropout": 1.0}, "'dropout' must be a number >= 0 and < 1"),
    ({"teacher_forcing": 1.5}, "'teacher_forcing' must be a number >= 0 and <= 1"),
    ({"lstm": {"hidden": 0}}, "'lstm.hidden' must be an integer >= 1"),
    ({"tasks": {"t": {"mask_steps": -1}}}, "'tasks.t.mask_steps' must be an integer >= 1"),
])
def test_a_bad_setting_is_named_with_what_it_must_be(config, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        checks.settings(config)


def test_good_settings_pass():
    checks.settings({"seeds": 1, "sizes": [42, 8, 20], "sweep_sizes": [[42, 8, 20]], "lr": 1e-3, "beta": 0,
                     "dropout": 0.0, "teacher_forcing": 1.0, "n_samples": 4, "batch": 128, "tasks": 3,
                     "lstm": {"hidden": 16, "steps": 3}, "unruled": "anything"})


@pytest.mark.parametrize("config,message", [
    ({"n_samples": 3, "batch": 128}, "'n_samples' must divide 'batch'"),
    ({"n_samples": 4, "batch": 32, "mask_batch": 30}, "'n_samples' must divide 'mask_batch'"),  # masks split mask_batch
    ({"n_samples": 8, "tasks": {"t": {"batch": 16, "mask_batch": 20}}}, "'n_samples' must divide 'tasks.t.mask_batch'"),
    ({"batch": 128, "lstm": {"n_samples": 3}}, "'lstm.n_samples' must divide 'batch'"),
])
def test_n_samples_divides_the_batch_it_splits_nested_or_inherited(config, message):
    with pytest.raises(ValueError, match=message):
        checks.settings(config)


def test_n_samples_need_not_divide_the_weights_batch_when_masks_have_their_own():
    checks.settings({"n_samples": 4, "batch": 30, "mask_batch": 32})


def test_names_in_a_setting_are_among_the_allowed_ones():
    allowed = {"nets": ("LSTM", "Transformer"), "images": ("auto", "cifar10")}
    checks.settings({"nets": ["LSTM"], "images": "auto"}, allowed)
    for bad in (["GRU"], [], ["LSTM", "LSTM"]):
        with pytest.raises(ValueError, match=r"'nets' must be a list of distinct values among \['LSTM'"):
            checks.settings({"nets": bad}, allowed)
    with pytest.raises(ValueError, match=r"'images' must be one of \['auto', 'cifar10'\], got 'hub'"):
        checks.settings({"images": "hub"}, allowed)


def test_experiment_checks_arguments_seeds_and_device_too():
    config = {"seeds": 1, "draws": 10, "sizes": [42, 8, 20], "batch": 8, "train_steps": 1, "mask_steps": 1,
              "lr": 1e-3, "mask_lr": 1e-2, "beta": 0.0, "n_samples": 4, "eval_every": 1}
    checks.experiment("method", config, None, "cpu")
    with pytest.raises(ValueError, match="method takes no argument 'source'"):
        checks.experiment("method", config, None, "cpu", source="auto")
    with pytest.raises(ValueError, match="seeds must be a count"):
        checks.experiment("method", config, [0, 0], "cpu")
    with pytest.raises(ValueError, match="seeds must be a count"):
        checks.experiment("method", config, 2.5, "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        checks.experiment("method", config, None, "tpu")
    with pytest.raises(ValueError, match="'source' must be one of"):
        checks.experiment("cnn", {"seeds": 1, "nets": ["CNN"], "widths": [4, 4, 8, 8]}, None, "cpu", source="x")


def test_writable_creates_the_folder_and_leaves_it_empty(tmp_path):
    assert checks.writable(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert not any((tmp_path / "a" / "b").iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="--out .* is not a folder this process can write"):
        checks.writable(tmp_path / "file", "--out")
