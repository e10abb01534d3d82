"""Settings: a config.json written by hand (or damaged) gets a clear message naming the key and its allowed
values, never a traceback; a bad file is never half-trusted and never overwritten; the CLI exits 2 with
"error: ..." for it."""

import json
import os
import subprocess
import sys
from dataclasses import asdict, fields, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegate.config import (
    CHOICES,
    LOOSE_MAX_THRESHOLD,
    RANGES,
    SAFE_MAX_THRESHOLD,
    Settings,
    check_safe,
    load_settings,
    save_settings,
    settings_problems,
)
from facegate.errors import ConfigError, FaceGateError


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def load_text(tmp_path, text):
    return load_settings(write(tmp_path / "config.json", text))


def refused(tmp_path, text) -> str:
    """The message load_settings gives for `text`; the file is left exactly as it was."""
    path = write(tmp_path / "config.json", text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert path.read_bytes() == before  # never rewritten, never "repaired"
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message


# ------------------------------------------------------------------------------------------- the good path

def test_no_file_means_defaults(tmp_path):
    assert load_settings(tmp_path / "config.json") == Settings()


def test_defaults_are_within_every_documented_range():
    assert settings_problems(Settings()) == []
    numeric = {f.name for f in fields(Settings) if type(f.default) in (int, float)}
    assert numeric == set(RANGES), "every numeric setting has an allowed range"
    for key, (low, high) in RANGES.items():
        assert low <= getattr(Settings(), key) <= high


def test_choices_match_the_modules_that_use_them():
    from facegate.liveness import MODES
    from facegate.vision.detect import DETECTORS

    assert set(CHOICES["liveness"]) == set(MODES)
    assert set(CHOICES["detector"]) == set(DETECTORS)


def test_save_then_load_round_trip_owner_only(tmp_path):
    path = tmp_path / "home" / "config.json"
    chosen = Settings(threshold=0.45, votes_needed=4, vote_window=6, liveness="passive", gallery="/srv/Zoë",
                      greeting_template="Grüß dich, {name}")
    save_settings(chosen, path)
    assert load_settings(path) == chosen
    assert path.stat().st_mode & 0o777 == 0o600


def test_partial_file_keeps_defaults_for_the_rest_and_accepts_friendly_numbers(tmp_path):
    loaded = load_text(tmp_path, '\ufeff{"threshold": 0.55, "greeting_cooldown_s": 600, "vote_window": 6.0}')
    assert loaded.threshold == 0.55  # a BOM (Windows Notepad) is fine
    assert loaded.greeting_cooldown_s == 600.0 and type(loaded.greeting_cooldown_s) is float  # int for a float
    assert loaded.vote_window == 6 and type(loaded.vote_window) is int  # 6.0 for a whole number
    assert loaded.min_margin == Settings().min_margin


# ------------------------------------------------------------------------------------- unreadable files

@pytest.mark.parametrize("text, expected", [
    ("", "not valid JSON"),
    ("{threshold: 0.5}", "not valid JSON"),
    ('{"threshold": 0.5,}', "not valid JSON"),
    ('{"threshold": 0.5', "line 1 column"),
    ("[1, 2, 3]", "must be a JSON object"),
    ('"threshold"', "must be a JSON object"),
    ("0.5", "must be a JSON object"),
    ("null", "must be a JSON object"),
    ('{"threshold": 0.5, "threshold": 0.9}', '"threshold" written more than once'),
    ("[" * 100_000, "the settings file is"),  # nested past Python's recursion limit
])
def test_unreadable_or_not_an_object(tmp_path, text, expected):
    message = refused(tmp_path, text)
    assert expected in message
    assert "delete the file to use the defaults" in message


def test_not_utf8(tmp_path):
    assert "not UTF-8" in refused(tmp_path, b'{"voice": "\xff\xfe"}')


def test_a_folder_where_the_file_should_be(tmp_path):
    (tmp_path / "config.json").mkdir()
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings(tmp_path / "config.json")


# ------------------------------------------------------------------------------------------- wrong types

@pytest.mark.parametrize("key, value, words", [
    ("threshold", "0.5", "must be a number"),
    ("threshold", None, "must be a number"),
    ("threshold", True, "must be a number"),
    ("min_margin", [0.05], "must be a number"),
    ("votes_needed", True, "must be a whole number"),
    ("votes_needed", 2.5, "must be a whole number"),
    ("votes_needed", "3", "must be a whole number"),
    ("vote_window", {"n": 5}, "must be a whole number"),
    ("speech", 1, "must be true or false"),
    ("speech", "yes", "must be true or false"),
    ("source", 0, "must be text"),
    ("liveness", None, "must be text"),
    ("allow_loose_threshold", "true", "must be true or false"),
])
def test_wrong_type_names_the_key_and_the_type(tmp_path, key, value, words):
    message = refused(tmp_path, json.dumps({key: value}))
    assert f'"{key}" {words}' in message


def test_unknown_key_suggests_the_close_one(tmp_path):
    message = refused(tmp_path, '{"treshold": 0.45}')
    assert 'unknown setting "treshold"' in message and 'did you mean "threshold"' in message
    message = refused(tmp_path, '{"colour": "red"}')
    assert 'unknown setting "colour"' in message and "known settings: threshold" in message


def test_every_problem_is_listed_at_once(tmp_path):
    message = refused(tmp_path, json.dumps({"threshold": 0.1, "liveness": "maybe", "source": " ",
                                            "detect_max_side": 5000}))
    assert "4 problems" in message
    for part in ('"threshold" must be between 0.3 and 0.6, not 0.1', '"liveness" must be one of "off", "passive", '
                 '"challenge", "adaptive", not "maybe"', '"source" is empty',
                 '"detect_max_side" must be between 160 and 1280'):
        assert part in message


def test_a_huge_value_is_shown_cut_short(tmp_path):
    message = refused(tmp_path, json.dumps({"voice": 7, "source": ["x" * 10_000]}))
    assert len(message) < 600


# ----------------------------------------------------------------------------------------- out of range

def _outside(low, high, integer):
    step = 1 if integer else (high - low) / 10 or 0.1
    return [low - step, high + step]


@pytest.mark.parametrize("key", sorted(RANGES))
def test_out_of_range_names_the_key_and_the_range(tmp_path, key):
    low, high = RANGES[key]
    integer = type(getattr(Settings(), key)) is int
    for value in _outside(low, high, integer):
        if key == "threshold" and SAFE_MAX_THRESHOLD < value <= LOOSE_MAX_THRESHOLD:
            continue  # its own message: see below
        data = {key: value}
        if key in ("votes_needed", "unknown_votes") and value > Settings().vote_window:
            data["vote_window"] = RANGES["vote_window"][1]
        message = refused(tmp_path, json.dumps(data))
        assert f'"{key}" must be between {low:g} and {high:g}' in message, message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(tmp_path, literal):
    for key in ("threshold", "greeting_cooldown_s", "min_margin"):
        message = refused(tmp_path, f'{{"{key}": {literal}}}')
        assert f'"{key}" must be between' in message


def test_huge_integer_for_a_number(tmp_path):
    assert '"threshold" must be between' in refused(tmp_path, '{"threshold": 1' + "0" * 400 + "}")
    assert '"votes_needed" must be between' in refused(tmp_path, '{"votes_needed": 1' + "0" * 400 + "}")


def test_votes_must_fit_their_window(tmp_path):
    message = refused(tmp_path, '{"votes_needed": 5, "vote_window": 4}')
    assert '"votes_needed" (5) must not be more than "vote_window" (4)' in message
    message = refused(tmp_path, '{"unknown_votes": 4, "vote_window": 3}')
    assert '"unknown_votes" (4) must not be more than "vote_window" (3)' in message
    assert load_text(tmp_path, '{"votes_needed": 4, "vote_window": 4, "unknown_votes": 4}').votes_needed == 4


@pytest.mark.parametrize("key, value, words", [
    ("liveness", "Challenge", 'must be one of "off", "passive", "challenge"'),
    ("liveness", "", 'must be one of'),
    ("detector", "mtcnn", 'must be one of "yunet", "hog"'),
    ("source", "", '"source" is empty'),
    ("source", "   ", '"source" is empty'),
    ("gallery", "/srv/a\u0000b", '"gallery" contains a NUL character'),
])
def test_choices_and_text(tmp_path, key, value, words):
    assert words in refused(tmp_path, json.dumps({key: value}))


# -------------------------------------------------------------------------------------- the threshold bound

def test_loose_threshold_needs_the_explicit_flag(tmp_path):
    message = refused(tmp_path, '{"threshold": 0.65}')
    assert "looser than the safe bound 0.6" in message and '"allow_loose_threshold": true' in message
    loose = load_text(tmp_path, '{"threshold": 0.65, "allow_loose_threshold": true}')
    assert loose.threshold == 0.65 and loose.allow_loose_threshold
    # even with the flag, not past the point where almost every face matches someone
    assert '"threshold" must be between 0.3 and 1' in refused(
        tmp_path, '{"threshold": 1.5, "allow_loose_threshold": true}')


def test_check_safe_guards_a_threshold_given_on_the_command_line():
    base = Settings()
    check_safe(replace(base, threshold=0.55), "--threshold")
    for bad in (0.7, float("nan"), float("inf"), 0.05, -1.0):
        with pytest.raises(FaceGateError, match="^--threshold: "):
            check_safe(replace(base, threshold=bad), "--threshold")
    check_safe(replace(base, threshold=0.7, allow_loose_threshold=True), "--threshold")


def test_save_refuses_what_load_would_refuse_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    save_settings(Settings(threshold=0.45), path)
    before = path.read_bytes()
    for bad in (Settings(threshold=0.8), Settings(votes_needed=7), Settings(liveness="sometimes"),
                Settings(detect_max_side=10_000), Settings(source="")):
        with pytest.raises(ConfigError, match=r"not saved \(the file is unchanged\)"):
            save_settings(bad, path)
        assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left either
    save_settings(Settings(threshold=0.8, allow_loose_threshold=True), path)
    assert load_settings(path).threshold == 0.8


def test_numbers_set_from_code_are_saved_as_plain_json(tmp_path):
    """Calibration and the dialogs compute values with NumPy; they are saved as plain JSON numbers."""
    import numpy as np

    path = tmp_path / "config.json"
    save_settings(Settings(threshold=np.float64(0.45), votes_needed=np.int64(4)), path)
    assert json.loads(path.read_text(encoding="utf-8"))["votes_needed"] == 4
    assert load_settings(path).threshold == 0.45
    with pytest.raises(ConfigError, match='"speech" must be true or false'):
        save_settings(Settings(speech="yes"), path)


# -------------------------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=15)
setting_names = st.sampled_from([f.name for f in fields(Settings)] + ["treshold", ""])
plausible_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5000), st.floats(-1, 5000), st.floats(allow_nan=True),
    st.sampled_from(["", " ", "0", "off", "passive", "challenge", "yunet", "hog", "a\u0000b", "Zoë"]), json_values)


def _assert_loads_or_refuses(path, text):
    write(path, text)
    try:
        loaded = load_settings(path)
    except FaceGateError as exc:
        assert str(exc).startswith(f"{path}: ") and "Traceback" not in str(exc)
        return
    assert isinstance(loaded, Settings) and settings_problems(loaded) == []
    for f in fields(Settings):  # what was loaded has the declared types, so later code can trust it
        assert type(getattr(loaded, f.name)) is type(f.default)
    save_settings(loaded, path)  # and what was loaded can be saved and read back unchanged
    assert load_settings(path) == loaded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_json_value_gives_settings_or_a_clear_error(tmp_path, value):
    _assert_loads_or_refuses(tmp_path / "config.json", json.dumps(value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(setting_names, plausible_values, max_size=6))
def test_any_object_of_settings_gives_settings_or_a_clear_error(tmp_path, data):
    _assert_loads_or_refuses(tmp_path / "config.json", json.dumps(data))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_any_text_gives_settings_or_a_clear_error(tmp_path, text):
    _assert_loads_or_refuses(tmp_path / "config.json", text)


# --------------------------------------------------------------------------------------- the CLI, end to end

def facegate(home, *args, timeout=120):
    env = dict(os.environ, FACEGATE_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "facegate", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=env)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("content, words", [
    ('{"threshold": "strict"}', '"threshold" must be a number'),
    ('{"threshold": 0.9}', "allow_loose_threshold"),
    ("{not json", "not valid JSON"),
    ('["threshold", 0.5]', "must be a JSON object"),
])
def test_commands_exit_2_with_a_readable_line_for_a_bad_config(tmp_path, content, words):
    home = tmp_path / "home"
    home.mkdir()
    config = write(home / "config.json", content)
    code, out, err = facegate(home, "gallery", "list")
    assert code == 2, (out, err)
    assert err.startswith(f"error: {config}: ") and words in err
    assert "Traceback" not in err and out == ""
    assert config.read_text(encoding="utf-8") == content  # the user's file is untouched


def test_bad_config_stops_every_entry_point_before_it_starts(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    write(home / "config.json", '{"liveness": "sometimes"}')
    for args in ([], ["run", "--headless", "--source", tmp_path], ["identify", tmp_path / "x.jpg"]):
        code, _, err = facegate(home, *args)
        assert code == 2 and err.startswith("error: ") and '"liveness" must be one of' in err, (args, err)
        assert "Traceback" not in err


def test_threshold_option_is_checked_like_the_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    photo = tmp_path / "none.jpg"
    for value, words in (("0.9", "allow_loose_threshold"), ("nan", "must be between"), ("0.1", "must be between")):
        code, _, err = facegate(home, "identify", "--gallery", tmp_path / "g", "--threshold", value, photo)
        assert code == 2 and err.startswith("error: --threshold: ") and words in err, err
    write(home / "config.json", json.dumps(asdict(Settings(allow_loose_threshold=True))))
    code, _, err = facegate(home, "identify", "--gallery", tmp_path / "g", "--threshold", "0.9", photo)
    assert code == 2 and "none.jpg" in err and "cannot read the file" in err  # past the check: the photo is absent


def test_readme_settings_table_is_made_from_the_declarations():
    """Each setting is declared once (config.py); the README's table is generated from it and must be current."""
    from pathlib import Path

    from facegate.config import settings_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings table:")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of settings table -->")
    assert readme[start:end] == settings_table(), "run `python -m facegate.config` and paste its table into README"


def test_every_setting_is_declared_with_help_and_a_range_or_choices_that_fit_its_default():
    from dataclasses import fields

    from facegate.config import CHOICES, RANGES, Settings, setting

    for f in fields(Settings):
        declared = setting(f.name)
        assert declared.help and declared.help == declared.help.strip(), f.name
        if f.name in RANGES:
            low, high = RANGES[f.name]
            assert low <= f.default <= high, f.name
        if f.name in CHOICES:
            assert f.default in CHOICES[f.name], f.name


def test_a_greeting_without_the_name_is_refused_when_settings_are_loaded(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"greeting_template": "Hello {who}"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"greeting_template.*Only \{name\}"):
        load_settings(path)
