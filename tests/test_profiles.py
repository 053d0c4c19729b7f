"""Profiles: every experiment has the three profiles; overrides are checked, nested ones too."""
import pytest

from weightmask import chapters, plan, profiles


def test_every_experiment_has_every_profile_and_each_passes_the_checks(cifar_present):
    # the paper profile runs the CNNs on CIFAR-10 only (tests/test_images.py: refused without it)
    for chapter in chapters.CHAPTERS:
        assert list(profiles.of(chapter.name)) == list(profiles.PROFILE_NAMES), chapter.name
        for profile in profiles.PROFILE_NAMES:
            plan.prepare(chapter.name, profile=profile, device="cpu")


def test_an_unset_profile_is_the_environments(monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_PROFILE", "paper")
    assert profiles.pick(None) == "paper" and profiles.pick("smoke") == "smoke"
    monkeypatch.delenv("WEIGHTMASK_PROFILE")
    assert profiles.pick(None) == "quick"


def test_overrides_keep_types_and_reach_nested_settings():
    config = profiles.resolve("addmul", "smoke", beta=1, **{"lstm.hidden": 32})
    assert config["beta"] == 1.0 and isinstance(config["beta"], float)
    assert config["lstm"]["hidden"] == 32
    assert profiles.of("addmul")["smoke"]["lstm"]["hidden"] == 16  # the profile is untouched


@pytest.mark.parametrize("overrides,error,message", [
    ({"stepz": 3}, ValueError, "no setting 'stepz'"),
    ({"lstm.hiden": 3}, ValueError, "no setting 'lstm.hiden'"),
    ({"sizes.x": 3}, ValueError, "no nested settings 'sizes'"),
    ({"lstm.hidden": 2.5}, TypeError, "must be int"),
    ({"mask_steps": True}, TypeError, "must be int"),
])
def test_bad_overrides_name_the_setting(overrides, error, message):
    with pytest.raises(error, match=message):
        profiles.resolve("addmul", "smoke", **overrides)


def test_unknown_profile_and_experiment():
    with pytest.raises(ValueError, match="choose one of"):
        profiles.resolve("addmul", "fast")
    with pytest.raises(ValueError, match="unknown experiment"):
        profiles.resolve("nope", "smoke")
