"""Finding the application's ``Rota``: ``--app``, else ``ROTA_APP``, else ``pyproject.toml``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rota.errors import ConfigurationError, did_you_mean

if TYPE_CHECKING:
    from rota.app import Rota

_HOW = (
    "pass --app pkg.module:attr, set ROTA_APP=pkg.module:attr, "
    'or add [tool.rota] app = "pkg.module:attr" to pyproject.toml'
)


def find_app_ref(ref: str | None = None, *, cwd: Path | None = None) -> tuple[str, str]:
    """(reference, where it came from): ``ref``, else ``ROTA_APP``, else the nearest
    ``pyproject.toml``'s ``[tool.rota] app``. ``ConfigurationError`` when none is set."""
    if ref:
        return ref, "--app"
    env = os.environ.get("ROTA_APP")
    if env:
        return env, "ROTA_APP"
    found = _from_pyproject(cwd or Path.cwd())
    if found is not None:
        return found
    raise ConfigurationError(f"no rota app configured; {_HOW}")


def _from_pyproject(start: Path) -> tuple[str, str] | None:
    import tomllib

    for directory in (start, *start.parents):
        path = directory / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read {path}: {exc}") from None
        app = data.get("tool", {}).get("rota", {}).get("app")
        if app is None:
            return None  # the nearest project has no rota app: do not look further up
        if not isinstance(app, str) or not app.strip():
            raise ConfigurationError(f"[tool.rota] app in {path} must be 'pkg.module:attr'")
        return app.strip(), str(path)
    return None


def load_app(ref: str | None = None, *, cwd: Path | None = None) -> Rota:
    """Import the ``Rota`` named by ``ref`` (``pkg.module:attr``) or by the configuration.

    The working directory is put first on ``sys.path`` (as uvicorn does),
    so ``--app tasks:rota`` finds ``./tasks.py``. Every failure is a
    ``ConfigurationError`` that says what to fix.
    """
    from rota.app import Rota

    text, source = find_app_ref(ref, cwd=cwd)
    module_name, attr = _split(text, source)
    directory = str(cwd or Path.cwd())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = _import(module_name, text, source)
    if not hasattr(module, attr):
        names = [n for n in vars(module) if not n.startswith("_")]
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attr!r} (from {source}: {text!r})"
            f"{did_you_mean(attr, names)}"
        )
    app = getattr(module, attr)
    if not isinstance(app, Rota):
        raise ConfigurationError(
            f"{text!r} (from {source}) is not a Rota but a {type(app).__name__}; "
            "point it at the object made with rota.Rota()"
        )
    return app


def _split(text: str, source: str) -> tuple[str, str]:
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name.strip() or not attr.strip() or not attr.isidentifier():
        raise ConfigurationError(
            f"invalid app reference {text!r} (from {source}); expected 'pkg.module:attr'"
        )
    return module_name.strip(), attr.strip()


def _import(module_name: str, text: str, source: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _is_prefix(exc.name, module_name):
            raise  # the app's own imports failed: show the real error
        raise ConfigurationError(
            f"cannot import module {module_name!r} (from {source}: {text!r}): "
            f"no module named {exc.name!r}; run rota from the project directory "
            "or check the module path"
        ) from None


def _is_prefix(missing: str, module_name: str) -> bool:
    return module_name == missing or module_name.startswith(missing + ".")


__all__ = ["find_app_ref", "load_app"]
