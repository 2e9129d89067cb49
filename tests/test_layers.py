"""The package's floors: no module of vega_mm imports a package of a higher floor, and the
packages import each other without cycles. Read from the source with ``ast`` (every
import statement, module level or inside a function), so nothing is imported."""
import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / 'vega_mm'

#: Floors, lowest first; a module may import its own floor and those below. The
#: top-level modules (``registry``, ``version``) are on the bottom floor.
FLOORS: Tuple[Tuple[str, ...], ...] = (
    ('structures', 'utils', 'registry', 'version'),
    ('conversations', ),
    ('datasets', ),
    ('models', 'encoders', 'anchors', 'evaluation'),
    ('speech', 'features', 'analysis'),
    ('engine', ),
    ('apis', ),
    ('benchmarking', ),
)
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports(path: Path, package: Path = PACKAGE) -> Iterator[Tuple[int, str]]:
    """``(line, absolute module name)`` of every vega_mm import in a file of ``package``."""
    name = _module_name(path, package)
    parent = (name if path.name == '__init__.py' else name.rsplit('.', 1)[0]).split('.')
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = parent[:len(parent) - node.level + 1]
            targets = ['.'.join(base + ([node.module] if node.module else []))]
        elif isinstance(node, ast.ImportFrom):
            targets = [node.module]
        else:
            continue
        for target in targets:
            if target == 'vega_mm' or target.startswith('vega_mm.'):
                yield node.lineno, target


def _part(module: str) -> str:
    """The top-level part of vega_mm a module belongs to (``''`` for ``vega_mm``)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def _sources() -> List[Path]:
    return sorted(PACKAGE.rglob('*.py'))


def test_every_part_of_vega_mm_has_a_floor():
    parts = {_part(_module_name(p)) for p in _sources()} - {''}
    assert parts <= set(FLOOR), f'no floor for {sorted(parts - set(FLOOR))} in FLOORS'


def test_no_module_imports_a_higher_floor():
    upward = []
    for path in _sources():
        here = _part(_module_name(path))
        if not here:  # vega_mm/__init__.py may import what it exports
            continue
        for line, target in _imports(path):
            there = _part(target)
            if there and FLOOR[there] > FLOOR[here]:
                upward.append(f'{path.relative_to(PACKAGE.parent)}:{line} ({here}, floor '
                              f'{FLOOR[here]}) imports {target} (floor {FLOOR[there]})')
    assert not upward, 'upward imports:\n' + '\n'.join(upward)


def test_the_packages_import_each_other_without_cycles():
    graph: Dict[str, Set[str]] = defaultdict(set)
    for path in _sources():
        here = _part(_module_name(path))
        for _, target in _imports(path):
            there = _part(target)
            if here and there and there != here:
                graph[here].add(there)

    def cycle_from(start: str, node: str, seen: List[str]) -> List[str]:
        for nxt in sorted(graph[node]):
            if nxt == start:
                return seen + [nxt]
            if nxt not in seen:
                found = cycle_from(start, nxt, seen + [nxt])
                if found:
                    return found
        return []

    cycles = [' -> '.join(c) for c in (cycle_from(p, p, [p]) for p in sorted(graph)) if c]
    assert not cycles, 'package cycles:\n' + '\n'.join(cycles)


def test_the_reader_sees_upward_imports(tmp_path):
    """The checks above read relative and function-level imports too."""
    pkg = tmp_path / 'vega_mm' / 'datasets'
    pkg.mkdir(parents=True)
    (pkg / 'reader.py').write_text('def f():\n    from ..apis import init_model\n')
    found = list(_imports(pkg / 'reader.py', tmp_path / 'vega_mm'))
    assert [(line, _part(t)) for line, t in found] == [(2, 'apis')]
