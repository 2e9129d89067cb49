"""The documentation stays true to the repository: every repository path it names exists,
every `make` target it names is in the Makefile, every relative link resolves, and the
README stays a short front door."""
import glob
import itertools
import os.path as osp
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md'))
README_MAX_LINES = 300
# Paths of other projects that the docs name on purpose, with whose they are.
EXTERNAL = {
    'tools/model_converters/openai-clip_to_mmpretrain-clip.py': "mmpretrain's converter",
}

# A repository path starts with one of these folders (`tests/` too: the docs name tests).
_PATH = re.compile(r'(?<![\w./-])((?:configs|tools|vega_mm|docs|tests)/[\w./{},*-]*)')
_MAKE = re.compile(r'(?<![\w-])make ((?:[A-Za-z_]\w*=\S+ )*)([a-z][\w-]*)')
_MODULE = re.compile(r'(?<![\w./\'"-])(vega_mm(?:\.\w+)+)')
_LINK = re.compile(r'\]\(([^)\s]+)\)')
_FENCE = re.compile(r'^(```|~~~)')
_INLINE = re.compile(r'`([^`\n]+)`')


def code_spans(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, code) of every inline code span and every fenced block's line."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if fenced:
            yield number, line
        else:
            for span in _INLINE.findall(line):
                yield number, span


def expand_braces(path: str) -> List[str]:
    """`a/{b,c}.py` -> [`a/b.py`, `a/c.py`] (every brace group, no nesting)."""
    parts = re.split(r'\{([^{}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def repo_paths(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, path) of every repository path named in code."""
    for number, code in code_spans(text):
        for match in _PATH.finditer(code):
            path = match.group(1).rstrip('.,:;')
            for one in expand_braces(path):
                yield number, one


def exists(path: str) -> bool:
    if '*' in path:
        return bool(glob.glob(str(ROOT / path)))
    return (ROOT / path).exists()


def dotted_name_resolves(name: str) -> bool:
    """`vega_mm.a.b.c`: the longest prefix is a module or package of the repository and
    the next part (a function, class or constant; at most one more part, a member of it,
    which is not checked) appears as a word in that module's source."""
    parts = name.split('.')
    path = ROOT
    for i, part in enumerate(parts):
        if (path / part).is_dir():
            path = path / part
            continue
        if (path / f'{part}.py').is_file():
            path, i = path / f'{part}.py', i + 1
        break
    else:
        return True
    rest = parts[i:]
    source = path / '__init__.py' if path.is_dir() else path
    if not rest:
        return True
    if len(rest) > 2 or not source.is_file():
        return False
    text = source.read_text()
    return re.search(rf'\b{re.escape(rest[0])}\b', text) is not None


def makefile_targets() -> set:
    text = (ROOT / 'Makefile').read_text()
    return set(re.findall(r'^([A-Za-z][\w.-]*)\s*:(?!=)', text, re.M))


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_named_paths_exist(doc: Path):
    missing = [f'{doc.name}:{n}: {p}' for n, p in repo_paths(doc.read_text())
               if p not in EXTERNAL and not exists(p)]
    assert not missing, 'paths named in the docs that are not in the repository:\n' + \
        '\n'.join(missing)


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_named_modules_exist(doc: Path):
    missing = [f'{doc.name}:{n}: {m}' for n, code in code_spans(doc.read_text())
               for m in _MODULE.findall(code) if not dotted_name_resolves(m)]
    assert not missing, 'vega_mm modules or names in the docs that the package lacks:\n' + \
        '\n'.join(missing)


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_make_targets_exist(doc: Path):
    targets = makefile_targets()
    assert {'demo', 'test', 'install'} <= targets, f'Makefile targets: {sorted(targets)}'
    unknown = [f'{doc.name}:{n}: make {m.group(2)}'
               for n, code in code_spans(doc.read_text())
               for m in _MAKE.finditer(code) if m.group(2) not in targets]
    assert not unknown, f'make targets not in the Makefile ({sorted(targets)}):\n' + \
        '\n'.join(unknown)


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path):
    broken = []
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        for target in _LINK.findall(line):
            if re.match(r'[a-z]+:', target) or target.startswith('#'):
                continue  # a URL or an anchor on the same page
            if not osp.exists(doc.parent / target.split('#')[0]):
                broken.append(f'{doc.name}:{number}: {target}')
    assert not broken, 'links to files that do not exist:\n' + '\n'.join(broken)


def test_readme_is_a_short_front_door():
    lines = len((ROOT / 'README.md').read_text().splitlines())
    assert lines < README_MAX_LINES, \
        f'README.md has {lines} lines; keep it under {README_MAX_LINES} and move details to docs/'


def test_the_checks_see_paths_and_targets():
    """The extractors find what they must, so an empty match cannot pass silently."""
    text = 'Run `make demo`, then `python tools/train.py configs/vega/vega_{iemocap,meld}.py`.\n' \
           '```bash\nmake test TORCH_SPEC=x\n```\nnot code: tools/nothing.py\n'
    assert [p for _, p in repo_paths(text)] == [
        'tools/train.py', 'configs/vega/vega_iemocap.py', 'configs/vega/vega_meld.py']
    assert [m.group(2) for _, c in code_spans(text) for m in _MAKE.finditer(c)] == \
        ['demo', 'test']
    assert not exists('tools/no_such_tool.py') and exists('configs/sdt/*.py')
    assert dotted_name_resolves('vega_mm.datasets.splits.make_val_split')
    assert not dotted_name_resolves('vega_mm.datasets.no_such_module')


_OUT_ARG = re.compile(r'--(?:out|out-dir|show-dir|work-dir)[ =](\S+)')
# where a documented command may write: folders the repository ignores
_OUTPUT_ROOTS = ('work_dirs/', 'data/', 'anchors/')


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.name)
def test_documented_commands_write_under_ignored_folders(doc):
    """A command copied from the docs writes nothing into the repository root."""
    bad = [(number, out) for number, code in code_spans(doc.read_text())
           if not code.lstrip().startswith('#')  # a comment, not a command
           for out in _OUT_ARG.findall(code)
           if not out.startswith(_OUTPUT_ROOTS) and not out.isupper()]  # OUT: a placeholder
    assert not bad, f'{doc.name}: outputs outside {_OUTPUT_ROOTS}: {bad}'


def test_the_gitignore_holds_the_outputs_of_documented_commands():
    ignored = (ROOT / '.gitignore').read_text().split()
    for name in ('/work_dirs/', 'predictions.jsonl', 'preds.json', '/vis/'):
        assert name in ignored
