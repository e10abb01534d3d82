#!/usr/bin/env bash
# Adds FaceGate to the desktop menu (and the desktop, when there is one) of the current Linux user.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$dir/.venv/bin/facegate-gui" ] || bash "$dir/scripts/install.sh"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed "s|@FACEGATE_DIR@|$dir|g" "$dir/assets/facegate.desktop" > "$apps/facegate.desktop"
chmod +x "$apps/facegate.desktop"
desktop="$(xdg-user-dir DESKTOP 2>/dev/null || echo "$HOME/Desktop")"
if [ -d "$desktop" ]; then
  cp "$apps/facegate.desktop" "$desktop/facegate.desktop"
  chmod +x "$desktop/facegate.desktop"
  gio set "$desktop/facegate.desktop" metadata::trusted true 2>/dev/null || true
fi
echo "FaceGate launcher installed: $apps/facegate.desktop"
