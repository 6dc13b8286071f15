"""The import rule of ARCHITECTURE.md, held against the code.

Layers, lowest first; a module may import its own package and anything in a lower layer, never
a higher one (function-local imports included). The faces (the CLI, the web app, the
integrations) sit on top and may import only ``segue.api`` (the one door), the package root
(``__version__``) and their own package: no face imports the core around the API, and no face
imports another, except the CLI launching one (``segue serve`` starts the web app).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "segue"

LAYERS: list[set[str]] = [
    {"errors", "config", "progress", "interrupts", "files"},
    {"audio"},
    {"library"},
    {"listen"},
    {"index"},
    {"playlist"},
    {"mix", "art", "evaluate", "learn"},
    {"api"},
    {"cli", "commands", "web", "integrations", "beetsplug"},
]
#: Packages that are one face together (the CLI's parser shell and its commands).
FACES = {"cli": "cli", "commands": "cli", "web": "web", "integrations": "integrations",
         "beetsplug": "beets"}  # fmt: skip
#: The only imports from one face into another: the CLI starting a long-running face.
LAUNCHERS = {"segue.web.app", "segue.integrations.mpd", "segue.integrations.subsonic"}


def _unit(module: str) -> str:
    """``segue.listen.pipeline`` -> ``listen``; ``segue`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for n, layer in enumerate(LAYERS):
        if unit in layer:
            return n
    raise AssertionError(f"segue.{unit} is in no layer: place it in LAYERS and ARCHITECTURE.md")


def _file_imports(path: Path) -> list[tuple[str, int]]:
    """(imported segue module, line) for every import in one file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "segue":
                targets = [f"segue.{a.name}" if a.name in {"api"} else "segue" for a in node.names]
            else:
                targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        out.extend((t, node.lineno) for t in targets if t == "segue" or t.startswith("segue."))
    return out


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported segue module, line) for every import under src/segue."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out.extend((module, target, line) for target, line in _file_imports(path))
    return out


def test_every_package_has_a_layer() -> None:
    for path in SRC.iterdir():
        if path.name.startswith(("_", ".")) or (path.is_file() and path.suffix != ".py"):
            continue
        if path.is_dir() and not (path / "__init__.py").exists():
            continue
        _layer(path.stem)


def test_lower_layers_never_import_upper_ones() -> None:
    bad = []
    for module, target, line in _imports():
        src, dst = _unit(module), _unit(target)
        if src == "__init__" or dst == "__init__" or src == dst:
            continue  # the package root's lazy open_library(); a package's own modules
        if _layer(dst) > _layer(src):
            bad.append(f"{module}:{line} imports {target} (layer {_layer(dst)} > {_layer(src)})")
    assert bad == [], "\n".join(bad)


def test_faces_go_through_the_api() -> None:
    bad = []
    for module, target, line in _imports():
        src = _unit(module)
        if src not in FACES:
            continue
        dst = _unit(target)
        own = dst in FACES and FACES[dst] == FACES[src]
        if target == "segue" or dst == "api" or own:
            continue
        if FACES[src] == "cli" and target in LAUNCHERS:
            continue
        bad.append(f"{module}:{line} imports {target}")
    assert bad == [], "faces may import only segue.api and their own package:\n" + "\n".join(bad)


def test_the_beets_plugin_goes_through_the_api() -> None:
    """src/beetsplug (segue's module in beets' plugin namespace) is a face outside src/segue:
    it may import only segue.api and the package root, and ships no __init__.py (that would
    shadow beets' own namespace)."""
    plugin_dir = SRC.parent / "beetsplug"
    files = sorted(plugin_dir.rglob("*.py"))
    assert files and not (plugin_dir / "__init__.py").exists()
    bad = [f"{path.name}:{line} imports {target}" for path in files
           for target, line in _file_imports(path) if target not in ("segue", "segue.api")]  # fmt: skip
    assert bad == [], "the beets plugin may import only segue.api:\n" + "\n".join(bad)


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checks above read real imports: a planted upward import is found."""
    tree = ast.parse("def f():\n    from segue.web.app import create_app\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _layer(_unit(node.module)) > _layer(_unit("segue.listen.pipeline"))
    assert ("segue.commands.serve", "segue.web.app") in {(m, t) for m, t, _ in _imports()}
