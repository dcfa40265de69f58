"""The layers of the package and the absence of import cycles, checked on the real import graph (grimp).

Higher layers may import lower ones, never the reverse. Imports under ``if TYPE_CHECKING`` do not count: they do
not run.
"""

import grimp
import networkx as nx
import pytest

# From the top down. A package may import the packages of lower layers (and modules of its own package).
LAYERS: list[set[str]] = [
    {"lavr.__main__"},
    {"lavr.cli"},
    {"lavr.chat"},
    {"lavr.eval"},
    {"lavr.agents", "lavr.prefetch"},
    {"lavr.planners"},
    {"lavr.tools", "lavr.backends", "lavr.prompts", "lavr.trace_html"},
    {"lavr.trace", "lavr.cache", "lavr.images", "lavr.samples", "lavr.refs", "lavr.answers", "lavr.perception"},
    {"lavr.schema", "lavr.settings", "lavr.lexicon", "lavr.jsonl", "lavr.outputs", "lavr.tfjs", "lavr.box_ops"},
    {"lavr.errors", "lavr.terminal"},  # below settings: a bad setting raises lavr.errors.SettingsError
]


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    imports = grimp.build_graph("lavr", exclude_type_checking_imports=True)
    g = nx.DiGraph()
    for module in imports.modules:
        g.add_node(module)
        for imported in imports.find_modules_directly_imported_by(module):
            if imported.startswith("lavr"):
                g.add_edge(module, imported)
    return g


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def layer_of(package: str) -> int:
    for depth, layer in enumerate(LAYERS):
        if package in layer:
            return depth
    raise AssertionError(f"{package} is in no layer: add it to LAYERS in {__file__}")


def test_no_import_cycles(graph):
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_every_package_has_a_layer(graph):
    for module in graph.nodes:
        if module != "lavr":
            layer_of(package_of(module))


def test_layers_only_import_downwards(graph):
    wrong = []
    for a, b in graph.edges:
        pa, pb = package_of(a), package_of(b)
        if pa == pb or "lavr" in (pa, pb):
            continue
        if layer_of(pb) <= layer_of(pa):
            wrong.append(f"{a} -> {b}")
    assert wrong == [], "imports against the layers: " + ", ".join(wrong)


def test_only_the_runner_executes_tool_calls(graph):
    """One executor: nothing but the runner (and the examples' refresher outside the package) imports it."""
    users = {a for a, b in graph.edges if b == "lavr.agents.executor"}
    assert users <= {"lavr.agents.agent", "lavr.agents.graph", "lavr.agents"}, users
