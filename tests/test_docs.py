"""The MkDocs site: every page in the nav, links that resolve, API pages on real modules, and
the generated benchmark tables up to date with the committed results."""

import importlib.util
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_MODULES = {
    "decoreg.estimator", "decoreg.core", "decoreg.config", "decoreg.rl", "decoreg.rl.advantages",
    "decoreg.rl.rewards", "decoreg.rl.loss", "decoreg.tabular", "decoreg.tokenizers",
    "decoreg.datasets", "decoreg.bench", "decoreg.metrics", "decoreg.distributed",
    "decoreg.checkpoint", "decoreg.tune", "decoreg.devices",
}  # fmt: skip


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert sorted(nav) == sorted(p.relative_to(DOCS).as_posix() for p in doc_pages())


def test_internal_links_resolve_inside_docs():
    broken = []
    for page in doc_pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z][a-z0-9+.-]*:|#", target):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(DOCS) or not path.exists():
                broken.append(f"{page.relative_to(DOCS)}: {target}")
    assert not broken, f"links that MkDocs cannot serve: {broken}"


def test_api_pages_document_existing_modules():
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: (\S+)$", page.read_text(), flags=re.M))
    assert documented >= API_MODULES, f"undocumented: {API_MODULES - documented}"
    for name in documented:
        base = ROOT / "src" / Path(*name.split("."))
        assert base.with_suffix(".py").exists() or (base / "__init__.py").exists(), name


def test_benchmark_tables_match_the_committed_results():
    script = load_script(ROOT / "benchmarks" / "bench_readme.py")
    page = (ROOT / script.PAGE).read_text()
    assert script.START in page and script.END in page
    assert script.render(page) == page, "run `python benchmarks/bench_readme.py`"
    plot = ROOT / "benchmarks" / "results" / script.SUITES[0] / script.PLOT
    assert (ROOT / script.PLOT_COPY).read_bytes() == plot.read_bytes()
