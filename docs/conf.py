"""Sphinx configuration: the Markdown pages of docs/ (MyST) and an API reference from the
docstrings. Build with ``make docs`` (``pip install -e ".[docs]"`` first); the site is
written to work_dirs/docs_html."""
import os.path as osp
import shutil

from vega_mm import __version__

# docs/api/ is written by autosummary at each build; pages of modules that have moved or
# gone would stay behind and fail the build (-W), so each build starts without them
shutil.rmtree(osp.join(osp.dirname(osp.abspath(__file__)), 'api'), ignore_errors=True)

project = 'vega_mm'
author = 'vega_mm contributors'
copyright = 'vega_mm contributors, Apache-2.0'
release = version = __version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
# docs/api/ is generated from the docstrings at each build (autosummary), not committed
exclude_patterns = ['_build', 'examples']

# Markdown: `#` anchors for headings down to ###, so `page.md#a-heading` links resolve
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

# API reference: one page per module, the objects each module defines (Google-style
# Args/Returns sections); type hints shown in the descriptions
autosummary_generate = True
autosummary_imported_members = False
# members defined in each module only: a package's `__all__` re-exports are documented
# once, on the page of the module that defines them
autodoc_default_options = {'members': True, 'show-inheritance': True, 'ignore-module-all': True}
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = 'alabaster'
html_title = f'vega_mm {release}'
