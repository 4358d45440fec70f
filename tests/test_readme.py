"""README's set-up commands are what CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
