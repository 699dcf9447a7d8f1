"""The repository's import structure: which package imports which, read from the source with `ast` (nothing is
imported but the task registry). Every import counts, at module level or inside a function (a lazy import is
still a dependency). Each first-level package or module of src/ is one node, `dependency/` is one, each root
script is one. The tests assert that the packages form no import circle, that every import runs down the
declared layers, that no model package imports another, and that docs/structure.md is the current drawing:

    python tests/test_structure.py --draw     # rewrites docs/structure.md
"""
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (--draw)
    sys.path.insert(0, str(ROOT))

ROOT_SCRIPTS = ("train", "test", "eval", "export", "predict", "preprocess", "postprocess")
DRAWING = ROOT / "docs" / "structure.md"
DRAW_COMMAND = "python tests/test_structure.py --draw"
MODELS = "models (registered tasks)"

# The layers, lowest first: a package may import only from layers below its own. The model packages are not
# named here: they are the packages of the registered tasks (src/tasks/__init__.py), so a new model is placed
# by its registry line. A new shared package or module must be placed here by hand (the test says so).
SHARED_LAYERS = (
    ("foundation: atomic files, WIDER FACE / COCO evaluation kernels", ("dependency",)),
    ("files and downloads", ("src.io_utils", "src.onnx_utils", "src.pretrained")),
    ("configuration, command line, devices", ("src.model_utils",)),
    ("building blocks: networks, data, losses", ("src.models", "src.data", "src.losses")),
    ("training machinery and checkpoints", ("src.engine",)),
    ("inference and export", ("src.inference", "src.export_utils")),
    ("evaluation", ("src.evaluation",)),
    ("the seam: task interface and registry", ("src.tasks",)),
)
TOP_LAYERS = (
    # entry points kept in src/ where the old model zoo had them (`python -m src.convert_weight_centerface ...`),
    # and command lines that need the task registry (a model's config -> what its data set holds)
    ("tools in src/", ("src.convert_dataset_to_mindrecord", "src.convert_weight_centerface",
                       "src.convert_weight_centernet", "src.convert_weight_mobilenetv2", "src.infer_mindir_cpu")),
    ("root scripts", ROOT_SCRIPTS),
)


# ---------------------------------------------------------------- reading the source

def module_files():
    """Module name -> file, for every module of src/, dependency/ and the root scripts."""
    files = {}
    for top in ("src", "dependency"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    for name in ROOT_SCRIPTS:
        files[name] = ROOT / f"{name}.py"
    return files


def _known(name, files):
    """The longest known module that `name` (a dotted import path) lies in, or None (outside the repository)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in files:
        parts.pop()
    return ".".join(parts) or None


def imports_of(module, path, files):
    """[(imported module of the repository, line)] of every import statement in the file, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from a import b`: b is a module of a, or a name defined in a
            names = [_known(f"{base}.{alias.name}", files) or base for alias in node.names]
        else:
            continue
        found += [(target, node.lineno) for target in map(lambda n: _known(n, files), names) if target]
    return found


def node_of(module):
    """The graph node of a module: its first-level package (or module) under src/, `dependency`, or the script."""
    parts = module.split(".")
    if parts[0] == "src":
        return ".".join(parts[:2])
    return parts[0]


def model_packages():
    """The packages of the registered tasks, from the registry (which imports no MindSpore)."""
    from src.tasks import REGISTRY

    modules = [entry[0] if isinstance(entry, (tuple, list)) else entry for entry in REGISTRY.values()]
    return tuple(dict.fromkeys(node_of(module) for module in modules))


def layers():
    """[(layer name, nodes)], lowest first."""
    return [*SHARED_LAYERS, (MODELS, model_packages()), *TOP_LAYERS]


def import_graph():
    """{(importer node, imported node): [where, as "module:line"]} between different nodes."""
    files = module_files()
    edges = defaultdict(list)
    for module, path in files.items():
        for target, line in imports_of(module, path, files):
            a, b = node_of(module), node_of(target)
            if a != b and "src" not in (a, b) and f"{module}:{line}" not in edges[a, b]:  # src: empty package
                edges[a, b].append(f"{module}:{line}")
    # The registry's late binding: src/tasks/__init__.py imports a model package by its name in REGISTRY
    # (importlib, which the statements above do not show). It is the one import that runs up the layers, and
    # deliberately: the seam finds the models, the models do not register themselves.
    for package in model_packages():
        edges["src.tasks", package].append("src.tasks:REGISTRY")
    return dict(edges)


LATE_BINDING = "src.tasks:REGISTRY"


def stated(edges):
    """The edges the source states in import statements (without the registry's late binding, which closes every
    model -> src.tasks import into a circle by construction)."""
    return {edge: where for edge, where in edges.items() if where != [LATE_BINDING]}


# ---------------------------------------------------------------- checks

def find_cycle(nodes, edges):
    """One import circle [a, b, ..., a] among `nodes`, or None (depth-first search)."""
    successors = defaultdict(set)
    for a, b in edges:
        if a in nodes and b in nodes:
            successors[a].add(b)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(successors[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(nodes):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def upward_edges(edges, layer_list):
    """["a -> b (layer i -> layer j): where"] for every import that does not run strictly down, apart from the
    registry's late binding; model packages may not import each other (same layer)."""
    level = {node: i for i, (_, nodes) in enumerate(layer_list) for node in nodes}
    bad = []
    for (a, b), where in sorted(edges.items()):
        where = [w for w in where if w != LATE_BINDING]
        if where and level[b] >= level[a]:
            bad.append(f"{a} -> {b} (layer {layer_list[level[a]][0]!r} -> {layer_list[level[b]][0]!r}): "
                       + ", ".join(where))
    return bad


def test_every_package_has_a_layer():
    placed = {node for _, nodes in layers() for node in nodes}
    nodes = {node_of(module) for module in module_files()} - {"src"}
    assert not nodes - placed, (f"{sorted(nodes - placed)}: in no layer; a model package is placed by its "
                                f"registry line (src/tasks/__init__.py), anything else by SHARED_LAYERS or "
                                f"TOP_LAYERS in tests/test_structure.py")
    assert not placed - nodes, f"{sorted(placed - nodes)}: in a layer but not in the repository"


def test_no_import_circle_between_packages():
    edges = stated(import_graph())
    nodes = {node for _, nodes in layers() for node in nodes}
    cycle = find_cycle(nodes, edges)
    assert cycle is None, "import circle: " + " -> ".join(
        f"{a} ({edges[a, b][0]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_every_import_runs_down_the_layers():
    bad = upward_edges(import_graph(), layers())
    assert not bad, "imports running back up (move the code down, or pass it in through the task):\n" + \
        "\n".join(bad)


def test_the_checks_catch_a_circle_and_an_import_running_up():
    # the two checks above on a graph with one bad import added: they must fail
    edges = {**stated(import_graph()), ("src.models", "src.tasks"): ["src.models.example:1"]}
    nodes = {node for _, nodes in layers() for node in nodes}
    assert find_cycle(nodes, stated(import_graph())) is None
    assert {"src.models", "src.tasks"} <= set(find_cycle(nodes, edges))  # src.tasks reaches src.models
    assert any(line.startswith("src.models -> src.tasks") for line in upward_edges(edges, layers()))
    models = model_packages()
    if len(models) > 1:
        edges = {**import_graph(), (models[0], models[1]): [f"{models[0]}.example:1"]}
        assert any(line.startswith(f"{models[0]} -> {models[1]}") for line in upward_edges(edges, layers()))


def test_the_drawing_is_current():
    assert DRAWING.is_file() and DRAWING.read_text() == drawing(), (
        f"{DRAWING.relative_to(ROOT)} is not the current structure; regenerate with `{DRAW_COMMAND}`")


# ---------------------------------------------------------------- the drawing

def _id(node):
    return "n_" + node.replace(".", "_")  # a prefix keeps names such as `end` from being Mermaid words


def drawing():
    """docs/structure.md: the layers as Mermaid subgraphs (lowest at the bottom), the package imports as edges,
    then the same as a list."""
    edges = import_graph()
    layer_list = layers()
    lines = [
        "# The import structure",
        "",
        f"<!-- Generated by `{DRAW_COMMAND}` from the source (tests/test_structure.py checks it is current);",
        "do not edit by hand. -->",
        "",
        "Each box is a first-level package or module of `src/`, `dependency/` or a root script; an arrow is an",
        "import (at module level or inside a function). Layers are listed lowest first: a package imports only",
        "from layers below its own, no model package imports another, and there is no import circle. The one",
        "dotted arrow is the registry's late binding: `src/tasks/__init__.py` imports a model package by the",
        "module name in `REGISTRY` when a task is built. A new model is placed by its registry line; a new shared",
        "package is placed in `SHARED_LAYERS` of tests/test_structure.py.",
        "",
        "```mermaid",
        "flowchart BT",
    ]
    for i, (name, nodes) in enumerate(layer_list):
        lines.append(f'  subgraph L{i}["{i}. {name}"]')
        lines += [f'    {_id(node)}["{node}"]' for node in nodes]
        lines.append("  end")
    for (a, b), where in sorted(edges.items()):
        arrow = "-.->" if where == [LATE_BINDING] else "-->"
        lines.append(f"  {_id(a)} {arrow} {_id(b)}")
    lines += ["```", "", "## Layers, lowest first", ""]
    for i, (name, nodes) in enumerate(layer_list):
        lines.append(f"{i}. **{name}**: " + ", ".join(f"`{node}`" for node in nodes))
    lines += ["", "## Imports", ""]
    for (a, b), where in sorted(edges.items()):  # which packages, not how many imports: the drawing changes only
        how = " (by name, from `REGISTRY`)" if where == [LATE_BINDING] else ""  # when the structure does
        lines.append(f"- `{a}` -> `{b}`{how}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--draw"]:
        sys.exit(f"usage: {DRAW_COMMAND}")
    DRAWING.write_text(drawing())
    print(f"wrote {DRAWING.relative_to(ROOT)}")
