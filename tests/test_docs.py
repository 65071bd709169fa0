"""The documentation a newcomer reads is kept true by the tests."""

import re
from pathlib import Path

from checker import clidoc

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_cli_reference_is_generated_from_the_commands():
    # A stale page names an option that no longer exists or misses a new one.
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == clidoc.generate(), \
        "docs/cli.md is stale: run python -m checker.clidoc"


def test_cli_reference_lists_every_command():
    from checker.cli import _register_optional_commands, cli

    _register_optional_commands()
    text = clidoc.generate()
    for name, cmd in cli.commands.items():
        if not cmd.hidden:
            assert f"## checker {name}\n" in text


def test_readme_is_short_and_self_contained():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    # A clone has no ../shared: the README must stand on its own.
    assert "../shared" not in text
    assert "checker explore ring --threads 3" in text
    assert "python -m pytest" in text


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links, "the README links into docs/"
    for link in links:
        if "://" not in link:
            assert (ROOT / link).exists(), link


def test_readme_lists_every_command():
    from checker.cli import _register_optional_commands, cli

    _register_optional_commands()
    text = README.read_text(encoding="utf-8")
    for name, cmd in cli.commands.items():
        if not cmd.hidden:
            assert f"`checker {name}" in text, f"README's command table lacks checker {name}"


def test_docs_do_not_point_outside_the_repository():
    for page in (ROOT / "docs").glob("*.md"):
        assert "../shared" not in page.read_text(encoding="utf-8"), page.name


def test_list_takes_a_model_file(checker_cli):
    r = checker_cli("list", ROOT / "tests" / "models" / "counter.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("test-counter")
    assert "memory models" not in r.stdout
    r = checker_cli("list", "no-such-model.py")
    assert r.returncode == 2 and "no model file" in r.stderr and "Traceback" not in r.stderr
