"""The package's shape: imports run one way, the light paths stay light, a missing extra is one line,
and the facts shipped for the command line are the code's."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import inception_zoo
from inception_zoo.cli import COMMANDS, main

PACKAGE = Path(inception_zoo.__file__).parent
OPTIONAL = ("fastapi", "uvicorn", "onnx", "onnxruntime", "onnxscript", "matplotlib", "tensorboard", "sklearn")
HEAVY = ("torch", "torchvision")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The package's modules that ``name`` imports anywhere: at top level, in functions, under TYPE_CHECKING."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import module" imports the module; "from module import name", the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


def test_imports_run_one_way():
    """No import cycle among the package's modules, counting every import statement (function-level too)."""
    graph = {name: imports_of(name) for name in MODULES}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_converters_know_no_network_and_no_file_format():
    for name in MODULES:
        if name.startswith("inception_zoo.convert"):
            assert not {m for m in imports_of(name) if m.startswith(("inception_zoo.models", "inception_zoo.weights"))}


def block(monkeypatch, package: str) -> None:
    """Make ``package`` (and every submodule of it loaded so far) fail to import, as if not installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [package]:
        monkeypatch.setitem(sys.modules, name, None)


def loaded_by(code: str) -> set[str]:
    """Top-level packages loaded by running ``code`` in a fresh interpreter."""
    program = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_package_loads_no_optional_tool_and_no_torch():
    loaded = loaded_by("import inception_zoo")
    assert not loaded & set(OPTIONAL + HEAVY)


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["list"], ["list", "--json"], ["weights"], ["recipes"]] + [[c.name, "--help"] for c in COMMANDS],
    ids=lambda argv: " ".join(argv),
)
def test_commands_that_need_no_tensor_load_no_torch(argv):
    code = f"from inception_zoo.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert not loaded_by(code) & set(OPTIONAL + HEAVY)


def test_every_command_answers_help_without_a_traceback():
    for command in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "inception_zoo", command.name, "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "usage: inception-zoo" in done.stdout, (command.name, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "blocked, argv, extra",
    [
        ("fastapi", ["serve", "--model", "googlenet"], "serve"),
        ("uvicorn", ["serve", "--model", "googlenet"], "serve"),
        ("sklearn", ["train", "--model", "googlenet_cifar", "--dataset", "digits", "--epochs", "1"], "train"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(blocked, argv, extra, monkeypatch, capsys, tmp_path):
    """As if the extra were not installed: the command stops before any work, with one line."""
    block(monkeypatch, blocked)
    for name in [m for m in sys.modules if m.startswith("inception_zoo.serve.")]:
        monkeypatch.delitem(sys.modules, name)  # imported by earlier tests: import it afresh
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"pip install 'inception-zoo[{extra}]'" in err and blocked in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "blocked, extra",
    [("onnx", "export"), ("onnxruntime", "export"), ("matplotlib", "train")],
)
def test_library_functions_name_their_extra(blocked, extra, monkeypatch, tmp_path):
    from inception_zoo import create_model
    from inception_zoo.errors import MissingExtra
    from inception_zoo.export import export
    from inception_zoo.runtime import onnx_session

    block(monkeypatch, blocked)
    if blocked == "matplotlib":  # the figures module needs it from the start: a run fails before it trains
        monkeypatch.delitem(sys.modules, "inception_zoo.plots", raising=False)
    with pytest.raises(MissingExtra, match=rf"pip install 'inception-zoo\[{extra}\]'"):
        if blocked == "onnx":
            export(create_model("inception_next_atto_cifar"), tmp_path / "m.onnx", dynamic_spatial=False)
        elif blocked == "onnxruntime":
            onnx_session(tmp_path / "m.onnx")
        else:
            importlib.import_module("inception_zoo.plots")


def test_the_shipped_catalog_is_the_codes():
    """catalog.json (what 'list' and 'weights' read) is keyed by the current sources and equals the counted facts;
    after a change to a model, run `make catalog`."""
    from inception_zoo.catalog import SHIPPED, _read, sources_digest
    from inception_zoo.models import model_table

    shipped = _read(SHIPPED, sources_digest())
    assert shipped is not None, f"{SHIPPED.name} is stale: run `make catalog`"
    assert shipped == json.loads(json.dumps(model_table())), f"{SHIPPED.name} is stale: run `make catalog`"
