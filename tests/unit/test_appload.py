"""Finding the app: ``--app``, ``ROTA_APP``, ``[tool.rota]`` in pyproject.toml."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from rota._appload import find_app_ref, load_app
from rota.app import Rota
from rota.errors import ConfigurationError

APP_SOURCE = """
from rota.app import Rota
rota = Rota("memory://")
not_an_app = 42
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A directory holding a uniquely named module that declares ``rota``."""
    module = f"tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROTA_APP", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    return tmp_path, module


def test_explicit_reference_imports_from_the_working_directory(project: tuple[Path, str]) -> None:
    _, module = project
    app = load_app(f"{module}:rota")
    assert isinstance(app, Rota)
    assert sys.modules[module].rota is app


def test_environment_variable(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, module = project
    monkeypatch.setenv("ROTA_APP", f"{module}:rota")
    assert find_app_ref(None) == (f"{module}:rota", "ROTA_APP")
    assert isinstance(load_app(None), Rota)


def test_the_explicit_reference_wins_over_the_environment(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_APP", "elsewhere:rota")
    assert find_app_ref("here:rota") == ("here:rota", "--app")


def test_nearest_pyproject_walking_up(project: tuple[Path, str]) -> None:
    root, module = project
    (root / "pyproject.toml").write_text(f'[tool.rota]\napp = "{module}:rota"\n')
    nested = root / "src" / "deep"
    nested.mkdir(parents=True)
    ref, source = find_app_ref(None, cwd=nested)
    assert (ref, source) == (f"{module}:rota", str(root / "pyproject.toml"))
    assert isinstance(load_app(None, cwd=root), Rota)


def test_nothing_configured_says_the_three_ways(project: tuple[Path, str]) -> None:
    root, _ = project
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(ConfigurationError) as error:
        load_app(None, cwd=root)
    message = str(error.value)
    assert "--app" in message
    assert "ROTA_APP" in message
    assert "[tool.rota]" in message


def test_missing_module(project: tuple[Path, str]) -> None:
    with pytest.raises(ConfigurationError, match="cannot import module 'nowhere_xyz'"):
        load_app("nowhere_xyz:rota")


def test_an_import_error_inside_the_app_is_not_hidden(project: tuple[Path, str]) -> None:
    root, _ = project
    (root / "brokenapp_q.py").write_text("import not_installed_pkg_q\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_pkg_q"):
        load_app("brokenapp_q:rota")


def test_missing_attribute_suggests(project: tuple[Path, str]) -> None:
    _, module = project
    with pytest.raises(ConfigurationError, match="did you mean 'rota'"):
        load_app(f"{module}:rot")


def test_attribute_that_is_not_a_rota(project: tuple[Path, str]) -> None:
    _, module = project
    with pytest.raises(ConfigurationError, match="is not a Rota but a int"):
        load_app(f"{module}:not_an_app")


@pytest.mark.parametrize("ref", ["tasks", "tasks:", ":rota", "tasks:not-an-identifier"])
def test_malformed_reference(project: tuple[Path, str], ref: str) -> None:
    with pytest.raises(ConfigurationError, match=r"pkg\.module:attr"):
        load_app(ref)


def test_bad_pyproject_value(project: tuple[Path, str]) -> None:
    root, _ = project
    (root / "pyproject.toml").write_text("[tool.rota]\napp = 3\n")
    with pytest.raises(ConfigurationError, match=r"\[tool.rota\] app"):
        find_app_ref(None, cwd=root)
