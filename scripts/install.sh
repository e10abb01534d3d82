#!/usr/bin/env bash
# Installs what FaceGate needs on a Linux machine: system libraries (speech, Qt) and a private virtualenv.
#   scripts/install.sh          the app
#   scripts/install.sh --test   the app plus the test tools
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv espeak-ng           # virtualenv; the speech engine pyttsx3 drives
  libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3   # Qt's runtime needs
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
  xvfb                             # a virtual screen, for screenshots and kiosks without a display
)
# Only with --test: real servers the tests start themselves in temp folders (tests skip, saying why, when one is
# missing).
TEST_APT_PACKAGES=(
  postgresql                       # tests/test_site.py: a site's PostgreSQL server (initdb + pg_ctl)
  mosquitto                        # the MQTT broker of tests/test_actions.py
)
[ "${1:-}" = "--test" ] && APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}")

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "Installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "Not a Debian/Ubuntu system: install espeak-ng and Qt's X11 libraries with your package manager" \
       "(and mosquitto and postgresql for the tests)." >&2
fi

# A Python that FaceGate supports (3.10-3.13, pyproject.toml): $PYTHON if set, else python3, else a versioned one.
pick_python() {
  local candidate
  for candidate in ${PYTHON:-} python3 python3.12 python3.13 python3.11 python3.10; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if [ ! -x .venv/bin/python ]; then
  if ! PYTHON=$(pick_python); then
    echo "FaceGate needs Python 3.10-3.13 (found: $(python3 --version 2>&1)). Install one, or set PYTHON=/path/to/python3.12." >&2
    exit 2
  fi
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extra="[plots]"  # the app, with the calibration report's plots
[ "${1:-}" = "--test" ] && extra="[test]"  # the test tools, and the plots
.venv/bin/python -m pip install -q -e ".${extra}"
