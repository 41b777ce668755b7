"""app/ in layers, each importing only those below it, and no import circle: the contracts of
pyproject.toml ([tool.importlinter]) hold for the code as it is, and they catch a breach."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                        no_logo=True) == 0


def test_the_layers_contract_names_every_package_of_app() -> None:
    """A new package under app/ belongs in a layer, or its imports would go unchecked."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c["layers"] for c in config["contracts"] if c["type"] == "layers")
    packages = {f"app.{p.name}" for p in (ROOT / "app").iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(layers)


@pytest.mark.parametrize("importer,imported,broken", [
    ("domain", "services", True),      # a rule reaching up to a use case
    ("services", "entrypoints", True),  # a use case reaching up to the API
    ("services", "domain", False),     # down: allowed
])
def test_the_layers_contract_catches_an_upward_import(tmp_path: Path, monkeypatch,
                                                      importer: str, imported: str,
                                                      broken: bool) -> None:
    """The same contract over a small package of the same shape, with one import added."""
    pkg = tmp_path / "house"
    for layer in ("entrypoints", "services", "domain"):
        (pkg / layer).mkdir(parents=True)
        (pkg / layer / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / importer / "rule.py").write_text(f"from house.{imported} import thing\n")
    (pkg / imported / "thing.py").write_text("")
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["house"]\n\n'
                      '[[tool.importlinter.contracts]]\nname = "layers"\ntype = "layers"\n'
                      'layers = ["house.entrypoints", "house.services", "house.domain"]\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    code = lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    assert code == (1 if broken else 0)
