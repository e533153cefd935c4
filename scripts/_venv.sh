# Sourced by scripts/*: make (once) and use the project's own virtual environment.
# $1: the extras to install with rota ("dev" for the tests; "" for rota alone).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROTA_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
extras="${1:-}"
target="$ROOT${extras:+[$extras]}"
stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)-${extras:-base}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtual environment in $VENV" >&2
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ]; then
    echo "==> installing rota${extras:+[$extras]} into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$target" >&2
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
