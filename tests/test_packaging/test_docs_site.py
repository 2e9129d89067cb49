"""The documentation site (``make docs``, run by CI before the tests): every page of
docs/ is in the site's table of contents, and the build treats a warning as an error."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / 'docs'
_TOCTREE = re.compile(r'^```\{toctree\}\n(.*?)^```', re.S | re.M)


def _toctree_entries(page: Path):
    for block in _TOCTREE.findall(page.read_text()):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(':'):
                yield line


def test_every_page_is_in_the_table_of_contents():
    entries = list(_toctree_entries(DOCS / 'index.md'))
    pages = sorted(p.stem for p in DOCS.glob('*.md') if p.stem != 'index')
    assert sorted(entries) == pages
    assert len(entries) == len(set(entries))


def test_the_site_builds_with_warnings_as_errors_before_the_tests():
    makefile = (REPO / 'Makefile').read_text()
    recipe = re.search(r'^docs:.*\n\t(.*)$', makefile, re.M).group(1)
    assert 'sphinx-build -W --keep-going -b html docs' in recipe
    ci = [line for line in (REPO / '.ci' / 'run').read_text().splitlines()
          if line.startswith('make ')]
    assert ci == ['make docs', 'make test']
    conf = (DOCS / 'conf.py').read_text()
    assert "'myst_parser'" in conf and "'sphinx.ext.autodoc'" in conf
