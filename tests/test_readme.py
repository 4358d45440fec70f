"""README's set-up commands are what CI runs; README stays short and its links resolve."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_BYTES = 12_000


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("decoreg quickstart")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"TEST_COMMAND='{readme_commands()[1]}'" in ci


def test_ci_runs_the_test_command_at_one_and_two_threads():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "for threads in 1 2" in ci and 'OMP_NUM_THREADS=$threads bash -c "$TEST_COMMAND"' in ci


def test_readme_is_short():
    size = (ROOT / "README.md").stat().st_size
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; the manual belongs in docs/"


def relative_links(markdown: str) -> list[str]:
    """Targets of `[text](target)` links that are not URLs or in-page anchors, anchors cut."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


def test_relative_links_finds_files_and_skips_urls():
    text = "[a](docs/x.md#part) [b](https://example.org/y.md) [c](#here) ![d](img/p.png)"
    assert relative_links(text) == ["docs/x.md", "img/p.png"]


def test_every_relative_link_in_readme_points_to_an_existing_file():
    links = relative_links((ROOT / "README.md").read_text())
    assert links, "README.md links to no file"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_the_package_takes_ranges_and_the_cpu_wheel_is_pinned_outside_it():
    """An exact pin among the dependencies would stop decoreg installing beside a GPU torch."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if "==" in d]
    assert "torch==2.13.0" in (ROOT / "constraints-cpu.txt").read_text().splitlines()
    assert all("-c constraints-cpu.txt" in command for command in readme_commands())
