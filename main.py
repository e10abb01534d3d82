"""Double-click entry point: starts the FaceGate desktop app (same as `facegate` with no arguments).

Run it with the project's Python (`.venv/bin/python main.py`); see README "Starting by double-click".
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works from a checkout without installing

from facegate.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
