"""Double-click entry point: starts FaceGate."""

import sys

from facegate.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
