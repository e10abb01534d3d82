"""The house stays as docs/architecture.md draws it: no import circle in facegate/, and imports only down the
layers (imports inside functions and under TYPE_CHECKING count)."""

from pathlib import Path

import pytest

from facegate_dev.imports import circles, import_graph, layer_of, layers_from_doc, longest_chain

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "facegate"
DOC = ROOT / "docs" / "architecture.md"


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE)


@pytest.fixture(scope="module")
def layers():
    found = layers_from_doc(DOC)
    assert [number for number, _, _ in found] == list(range(1, len(found) + 1)), "layers numbered 1, 2, 3..."
    return found


def test_no_import_circle_in_facegate(graph):
    found = circles(graph)
    assert not found, "import circles (break each: move what both need into a lower module):\n" + "\n".join(
        " <-> ".join(group) for group in found)
    assert len(longest_chain(graph)) >= 5  # the graph was read: cli -> ... -> errors


def test_every_module_is_in_a_layer(graph, layers):
    missing = sorted(module for module in graph if layer_of(module, layers) is None)
    assert not missing, f"modules in no layer of {DOC.name} (add them to its table): {missing}"


def test_imports_go_down_the_layers(graph, layers):
    names = {number: name for number, name, _ in layers}
    upward = [f"{module} ({names[layer_of(module, layers)]}) imports {target} ({names[layer_of(target, layers)]})"
              for module, targets in sorted(graph.items()) for target in sorted(targets)
              if layer_of(target, layers) > layer_of(module, layers)]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_the_reader_sees_every_kind_of_import(tmp_path):
    """The checks above can fail: a circle made by an import inside a function, a relative import and one under
    TYPE_CHECKING are all found."""
    package = tmp_path / "house"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def late():\n    from house import high\n    return high\n")
    (package / "high.py").write_text("from . import low\nfrom typing import TYPE_CHECKING\n"
                                     "if TYPE_CHECKING:\n    from house.side import thing\n")
    (package / "side.py").write_text("import house.low\nthing = 1\n")
    graph = import_graph(package)
    assert graph == {"house": set(), "house.low": {"house.high"}, "house.high": {"house.low", "house.side"},
                     "house.side": {"house.low"}}
    assert circles(graph) == [["house.high", "house.low", "house.side"]]
    layers = [(1, "bottom", ["house.low"]), (2, "top", ["house", "house.high", "house.side"])]
    assert layer_of("house.low", layers) == 1 and layer_of("house.side", layers) == 2
    assert layer_of("house.other", layers) is None
