# Sourced by scripts/start and scripts/test: create/reuse .venv and install the project.
# Usage: ensure_env EXTRAS   (e.g. "dev" or "" for runtime only)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

ensure_env() {
  local extras="$1" spec stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV" >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  fi
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  # Reinstall only when the dependency list or the extras changed.
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
  stamp="$VENV/.workbench-installed"
  if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp"; then
    echo "[setup] installing $spec into $VENV (first run takes a few minutes)" >&2
    (cd "$ROOT" && "$VENV/bin/python" -m pip install -q -e "$spec") >&2
    echo "$want" >> "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
  # Never reach for a model hub at run time unless the user asks for it.
  export HF_HUB_DISABLE_TELEMETRY=1 RAY_USAGE_STATS_ENABLED=0
}

# Debian's chromium for the browser tests (tests/dashboard/browser): Playwright drives it
# through executable_path and cannot download a browser of its own here.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "[setup] installing Debian's chromium (apt-get) for the browser tests" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation fonts-dejavu-core >&2
}
