"""The code a stage runs, as a hash of the syntax trees of every definition reachable from it.

A stage's key includes this hash, so editing a model, a task, a loop or the masking code
invalidates exactly the stages whose code reaches the edit, while a reworded docstring or
comment (absent from the syntax tree) or an edited verdict rule (not reachable from any
stage) changes nothing. Reachability follows names: a function's body refers to other
top-level definitions of its module and to imported names, followed into every module of
the roots' packages (third-party code is not followed). A module used as a value, and a
sibling script named in a string (``Path(__file__).with_name("worker.py")``), count whole.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = ["code_hash", "caller", "clear_cache"]

_SCRIPT = re.compile(r"^[A-Za-z_]\w*\.py$")
Ref = tuple[str, "str | None"]  # (module, top-level name); None: the whole module


@dataclass
class _Module:
    """One module's top-level definitions, its imports and the statements that always run."""

    name: str
    path: Path
    defs: dict[str, list[ast.AST]] = field(default_factory=dict)
    imports: dict[str, Ref] = field(default_factory=dict)
    preamble: list[ast.AST] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module name of a (relative) ``from ... import``."""
    if not level:
        return target or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _assigned(node: ast.AST) -> list[str]:
    """Top-level names a statement binds."""
    targets = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            targets.append(n.id)
    return targets


def _base_name(node: ast.AST) -> str | None:
    """``X`` of ``X[...]``, ``X.a`` or ``X.a(...)`` chains."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutated(node: ast.AST) -> list[str]:
    """The top-level names a statement changes in place: ``X[k] = v``, ``X.a += v``, ``X.update(...)``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        targets = [node.value.func]
    else:
        return []
    found = (_base_name(t) for t in targets if isinstance(t, (ast.Subscript, ast.Attribute)))
    return [n for n in found if n]


@functools.lru_cache(maxsize=None)
def _spec_path(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


@functools.lru_cache(maxsize=None)
def _index(name: str) -> _Module | None:
    """The parsed module ``name``, or None when it has no Python source."""
    path = _spec_path(name)
    if path is None:
        return None
    tree = _strip_docstrings(ast.parse(path.read_text(), filename=str(path)))
    mod = _Module(name, path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):  # imports anywhere, also inside functions
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    mod.imports[a.asname] = (a.name, None)
                else:
                    top = a.name.split(".")[0]
                    mod.imports[top] = (top, None)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(name, is_package, node.level, node.module)
            for a in node.names:
                if a.name != "*":
                    mod.imports[a.asname or a.name] = (source, a.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _SCRIPT.match(node.value):
            if (path.parent / node.value).is_file():
                mod.scripts.append(".".join(name.split(".")[:-1 if not is_package else None] + [node.value[:-3]]))
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            mod.defs.setdefault(node.name, []).append(node)
            continue
        names = _assigned(node) or _mutated(node)
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)) and names:
            for n in names:  # part of each name it binds or changes: read with it
                mod.defs.setdefault(n, []).append(node)
        else:  # code that runs on import (if / try / bare calls): always part of the module
            mod.preamble.append(node)
            for n in names:
                mod.defs.setdefault(n, []).append(node)
    return mod


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _local_names(fn: ast.AST) -> set[str]:
    """The names a function binds itself (Python makes every use of them in it local)."""
    args = fn.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared_global: set[str] = set()
    todo = list(fn.body) if isinstance(fn.body, list) else [fn.body]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            todo.extend(node.decorator_list)
            continue  # its body is its own scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared_global |= set(node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names - declared_global


def _used(node: ast.AST, local: frozenset[str] = frozenset()):
    """(node, names local to it) for every node under ``node``, except type annotations (they
    run nothing); a function's own names shadow the module's."""
    if isinstance(node, _SCOPES):
        local = local | _local_names(node)
    yield node, local
    for name, value in ast.iter_fields(node):
        if name in ("annotation", "returns"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield from _used(child, local)


def _is_module(name: str) -> bool:
    return _spec_path(name) is not None


class _Walker:
    """Collects the definitions reachable from the roots, within the followed packages."""

    def __init__(self, packages: set[str]):
        self.packages = packages
        self.seen: set[Ref] = set()
        self.todo: list[Ref] = []
        self.resolved: set[int] = set()  # ids of module-alias Name nodes whose attribute chain named a definition

    def follows(self, module: str) -> bool:
        return module.split(".")[0] in self.packages

    def add(self, ref: Ref) -> None:
        if ref not in self.seen and self.follows(ref[0]):
            self.seen.add(ref)
            self.todo.append(ref)

    def add_import(self, target: Ref) -> None:
        """A name bound by an import: a module (whole) or a definition of one."""
        module, attr = target
        if attr is None:
            self.add((module, None))
        elif _is_module(f"{module}.{attr}"):
            self.add((f"{module}.{attr}", None))
        else:
            self.add((module, attr))

    def refer(self, mod: _Module, node: ast.AST) -> None:
        """Every name ``node`` uses, resolved in ``mod``."""
        for n, local in _used(node):
            if isinstance(n, ast.Attribute):
                self._attribute(mod, n, local)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local \
                    and id(n) not in self.resolved:  # ``alias.f``: f is reached, not all of alias
                if n.id in mod.defs:
                    self.add((mod.name, n.id))
                elif n.id in mod.imports:
                    self.add_import(mod.imports[n.id])

    def _attribute(self, mod: _Module, node: ast.Attribute, local: frozenset[str]) -> None:
        """``alias.x.y`` where ``alias`` is an imported module: the definition it names."""
        chain = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in mod.imports or base.id in local:
            return
        module, attr = mod.imports[base.id]
        if attr is not None:
            if not _is_module(f"{module}.{attr}"):
                return
            module = f"{module}.{attr}"
        for part in reversed(chain):
            if _is_module(f"{module}.{part}"):
                module = f"{module}.{part}"
                continue
            self.add((module, part))
            self.resolved.add(id(base))
            return

    def run(self) -> list[tuple[str, str, str]]:
        """(module, name, dumped tree) for every reachable definition, in a stable order."""
        out = []
        done_modules: set[str] = set()
        while self.todo:
            module, name = self.todo.pop()
            mod = _index(module)
            if mod is None:
                continue
            if module not in done_modules:  # what runs on import, and sibling scripts
                done_modules.add(module)
                for node in mod.preamble:
                    out.append((module, "<module>", ast.dump(node)))
                    self.refer(mod, node)
                for script in mod.scripts:
                    self.add((script, None))
            if name is None:
                for n in mod.defs:
                    self.add((module, n))
                for target in mod.imports.values():  # a module used whole: its imports too
                    self.add_import(target)
                continue
            if name not in mod.defs:  # re-exported: follow the import that binds it
                if name in mod.imports:
                    self.add_import(mod.imports[name])
                continue
            for node in mod.defs[name]:
                out.append((module, name, ast.dump(node)))
                self.refer(mod, node)
        return sorted(set(out))


def _ref(root) -> Ref:
    if isinstance(root, tuple) and len(root) == 2:  # already (module, name)
        return root
    if isinstance(root, ModuleType):
        return (root.__name__, None)
    if isinstance(root, str):
        return (root, None)
    module = getattr(root, "__module__", None)
    qualname = getattr(root, "__qualname__", None)
    if not module or not qualname:
        raise TypeError(f"code roots must be functions, classes or modules, got {root!r}")
    return (module, qualname.split(".")[0])


@functools.lru_cache(maxsize=None)
def _hash(refs: tuple[Ref, ...]) -> str | None:
    walker = _Walker({"weightmask"} | {m.split(".")[0] for m, _ in refs})
    for ref in refs:
        walker.add(ref)
    trees = walker.run()
    if not trees:
        return None
    h = hashlib.sha256()
    for module, name, dump in trees:
        h.update(f"{module}:{name}\0{dump}\0".encode())
    return h.hexdigest()[:16]


def code_hash(*roots) -> str | None:
    """16 hex chars naming the code reachable from ``roots`` (functions, classes, modules or
    ``(module, name)`` pairs);
    None where none of them has Python source (e.g. code typed into an interpreter)."""
    return _hash(tuple(sorted({_ref(r) for r in roots}, key=repr)))


def caller(depth: int = 2) -> Ref | None:
    """The top-level definition whose code called the function that calls this one."""
    frame = sys._getframe(depth)
    module = frame.f_globals.get("__name__")
    qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
    if not module or module == "__main__" or qualname.startswith("<"):
        return (module, None) if module and module != "__main__" else None
    return (module, qualname.split(".")[0])





def clear_cache() -> None:
    """Forget parsed modules and hashes (after editing source files in a running process)."""
    _spec_path.cache_clear()
    _index.cache_clear()
    _hash.cache_clear()
