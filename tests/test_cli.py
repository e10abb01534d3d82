"""`facegate` commands end to end, as a user runs them (a real process, real models, real photos)."""

import subprocess
import sys

from facegate.vision.weights import ALL_WEIGHTS


def facegate(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "facegate", *map(str, args)], capture_output=True, text=True,
                            timeout=300, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


def test_enroll_identify_list_rename_remove(tmp_path, clips):
    gallery = tmp_path / "gallery"
    code, out, _ = facegate("enroll", "--gallery", gallery, "--name", "Barack Obama",
                            clips / "obama.jpg", clips / "two_people.jpg")
    assert code == 0
    assert "enrolled Barack Obama" in out and "skipped" in out and "two_people.jpg" in out

    code, out, _ = facegate("identify", "--gallery", gallery, clips / "people_small" / "test" / "obama_and_biden.jpg")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert sum("Barack Obama (distance" in line for line in lines) == 1
    assert sum("Unknown" in line for line in lines) == 2

    code, out, _ = facegate("identify", "--gallery", gallery, clips / "biden.jpg")
    assert code == 0 and "Unknown (closest Barack Obama" in out

    code, out, _ = facegate("gallery", "list", "--gallery", gallery)
    assert "1 people" in out and "Barack Obama: 1 photo(s)" in out

    code, out, _ = facegate("gallery", "rename", "Barack Obama", "Obama", "--gallery", gallery)
    assert code == 0 and (gallery / "Obama").is_dir()

    code, out, _ = facegate("gallery", "remove", "Obama", "--gallery", gallery)
    assert code == 1 and "--yes" in out and (gallery / "Obama").is_dir()  # asks before erasing
    code, out, _ = facegate("gallery", "remove", "Obama", "--gallery", gallery, "--yes")
    assert code == 0 and not (gallery / "Obama").exists()


def test_bad_input_gives_a_clear_message(tmp_path, clips):
    gallery = tmp_path / "gallery"
    code, _, err = facegate("enroll", "--gallery", gallery, "--name", "../evil", clips / "obama.jpg")
    assert code == 2 and "path separator" in err and not (tmp_path / "evil").exists()

    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a jpeg")
    code, _, err = facegate("identify", "--gallery", gallery, junk)
    assert code == 2 and "junk.jpg" in err and "not a readable image" in err
    assert "Traceback" not in err

    code, out, _ = facegate("identify", "--gallery", gallery, clips / "obama.jpg")
    assert code == 0 and "nobody is enrolled" in out


def test_check_verifies_every_weight_file():
    code, out, _ = facegate("check")
    assert code == 0 and out.count("ok ") == len(ALL_WEIGHTS) + 1  # each weight file and the Qt binding
    assert "ok      Qt binding: PySide6" in out
