"""Sphinx configuration of hipposim's documentation (``sphinx-build -W -b html docs docs/_build/html``)."""
from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
# the documented package is the installed one: the source tree's hipposim/ lacks the models package, which
# the installation maps from models/ (``python -m sphinx`` run from the checkout puts it first on the path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]

_EXTENSIONS = {"myst_nb": "myst-nb", "sphinx_gallery": "sphinx-gallery", "sphinxcontrib.bibtex":
               "sphinxcontrib-bibtex", "numpydoc": "numpydoc", "pydata_sphinx_theme": "pydata-sphinx-theme",
               "sphinx-mathjax-offline": "sphinx-mathjax-offline"}
_missing = []
for _module, _dist in _EXTENSIONS.items():
    try:
        importlib.import_module(_module)
    except ImportError:
        _missing.append(_dist)
if _missing:
    # one line, not Sphinx's report of a failing configuration file
    sys.stderr.write(f"the documentation needs {', '.join(_missing)}: pip install \"hipposim[docs]\"\n")
    sys.stderr.flush()
    os._exit(2)

import hipposim

project = "hipposim"
author = "hipposim contributors"
copyright = "hipposim contributors"
version = release = hipposim.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax from _static/, so pages with maths open offline
    "numpydoc",
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.bibtex",
    "hipposim_docs",
]

# --- offline: no intersphinx, no remote images
suppress_warnings: list[str] = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.codeobj.json", "**.ipynb_checkpoints", "notebooks/runs"]

# --- sources: MyST markdown, notebooks (myst-nb), reStructuredText (gallery)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# the quickstart notebook lives in examples/ (where the tests run it); the build executes a copy
_notebooks = HERE / "notebooks"
_notebooks.mkdir(exist_ok=True)
shutil.copyfile(ROOT / "examples" / "quickstart.ipynb", _notebooks / "quickstart.ipynb")
os.environ.setdefault("HIPPOSIM_SCENARIOS", str(ROOT / "scenarios"))
os.environ.setdefault("MPLBACKEND", "Agg")

# --- gallery: every examples/plot_*.py runs in the build
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|_shrink",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_memory": False,
    "show_signature": False,
    "write_computation_times": False,  # its page loads scripts from the web
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
}

# HIPPOSIM_DOCS_NO_RUN=1 skips running the notebook and the gallery (for editing prose; the
# tests always run both)
if os.environ.get("HIPPOSIM_DOCS_NO_RUN"):
    nb_execution_mode = "off"
    sphinx_gallery_conf["plot_gallery"] = "False"

# --- API reference: autodoc + numpydoc
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options: dict[str, bool] = {}  # members are asked for where wanted (api.md)
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

_UNDERLINE = re.compile(r"^([-=~^\"'`#*+])\1{2,}\s*$")
_CODE = re.compile(r"(``.*?``|:[a-z:]+:`[^`]*`|`[^`]*`)")


def _plain_text_docstring(app, what, name, obj, options, lines):
    """Docstrings write maths as plain text (|x|, |ln a|): keep a bar from reading as an RST
    substitution, let a section underline be as long as its title, and join the continuation
    lines of an aligned ``name``-description list to their entry."""
    joined: list[str] = []
    for line in lines:
        prev = joined[-1] if joined else ""
        indent = len(line) - len(line.lstrip())
        if (line.strip() and prev.lstrip().startswith("``")
                and indent > len(prev) - len(prev.lstrip()) + 4):
            joined[-1] = prev.rstrip() + " " + line.strip()
        else:
            joined.append(line)
    lines[:] = joined
    for i, line in enumerate(lines):
        if _UNDERLINE.match(line) and i and lines[i - 1].strip() and len(line.rstrip()) < len(lines[i - 1].rstrip()):
            lines[i] = line.rstrip()[0] * len(lines[i - 1].rstrip())
        elif "|" in line and not line.lstrip().startswith(("|", "+")):
            lines[i] = "".join(part if _CODE.fullmatch(part) else part.replace("|", "\\|")
                               for part in _CODE.split(line))


def setup(app):
    app.connect("autodoc-process-docstring", _plain_text_docstring, priority=400)


# --- every cross-reference must resolve (-n), except to packages and hipposim modules outside
# the API reference (their docstrings name them for readers of the source)
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(xarray|numpy|np|scipy|sklearn|pydantic|matplotlib|neo|pynwb|brian2|dask|pathlib|typing)(\..*)?"),
    (r"py:.*", (r"hipposim\.(models|circuits|backends|scenario|seeding|export|plotting|strict|stimuli|errors"
                r"|units|run\.folder|run\.executors|run\.protocol)(\..*)?")),
    # short names in docstrings of modules being changed elsewhere (hipposim/run/sweep.py,
    # models/ca3_spiking.py); they name hipposim.run.executors, hipposim.errors.HipposimError and
    # hipposim.circuits.ca3.perforant_projection
    (r"py:mod", r"executors"), (r"py:class", r"HipposimError"), (r"py:func", r"perforant_projection"),
]

# --- one bibliography
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# --- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"hipposim {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "icon_links": [],
    "use_edit_page_button": False,
}
html_sidebars = {"index": []}
html_show_sourcelink = False
