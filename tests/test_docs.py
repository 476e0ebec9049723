"""The README stays true to the code: schema table, every command, the set-up commands, .ci/run."""

from __future__ import annotations

import re
from typing import Any

from conftest import REPO, run_cli
from tokmeter.config import ENV_VARS, env_table
from tokmeter.schema import markdown_table

README = (REPO / "README.md").read_text()


def test_schema_table_is_the_schema() -> None:
    assert markdown_table() in README


def test_env_var_table_is_the_list() -> None:
    assert env_table() in README


def test_help_lists_every_env_var() -> None:
    result = run_cli("--help", env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"(TOKMETER_[A-Z_]+): ", result.stdout))
    assert listed == {var.name for var in ENV_VARS}


def test_every_command_is_documented() -> None:
    listed = run_cli("--help").stdout
    commands = re.findall(r"^│ (\w+)\s{2,}", listed, flags=re.M)
    assert commands, listed
    for command in commands:
        assert f"### `tokmeter {command}" in README, command


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert command in README


def test_readme_main_job_runs_on_sample_logs() -> None:
    assert "tokmeter ingest sample_logs/" in README and "tokmeter report --by model" in README


# ---- one command-line contract: README sections and --help agree on every command's options ----------
SHARED_OPTIONS = {
    "--store",
    "--quiet",
    "--help",
}  # documented once, in the Commands section's first paragraph
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def cli_options() -> dict[str, list[tuple[str, ...]]]:
    """Every command ("prices check" for a sub-command) and the options its --help lists, each with its
    names (``("--wait", "--no-wait")`` for a flag pair)."""
    from typer.main import get_command

    from tokmeter.cli import app

    def walk(group: Any, prefix: str) -> dict[str, list[tuple[str, ...]]]:  # typer's vendored click types
        found: dict[str, list[tuple[str, ...]]] = {}
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                found |= walk(command, f"{prefix}{name} ")
            else:
                found[prefix + name] = [
                    tuple(opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--"))
                    for param in command.params
                    if param.param_type_name == "option"
                ]
        return found

    return walk(get_command(app), "")


def cli_commands() -> dict[str, set[str]]:
    """Every command and all the names of its options."""
    return {
        command: {name for names in options for name in names} for command, options in cli_options().items()
    }


def readme_section(command: str) -> str:
    """The text of every README section headed ``### `tokmeter COMMAND...`` (with its sub-sections)."""
    parts = re.split(r"^(?=#{2,3} )", README, flags=re.MULTILINE)  # a #### sub-section stays in its section
    return "\n".join(p for p in parts if re.match(rf"###+ .*`tokmeter {re.escape(command)}[ `]", p))


def test_every_option_in_help_is_in_the_readme() -> None:
    for command, options in cli_options().items():
        section = readme_section(command)
        assert section, f"no README section for tokmeter {command}"
        documented = set(OPTION.findall(section)) | SHARED_OPTIONS
        missing = {names[0] for names in options if not documented.intersection(names)}
        assert not missing, f"tokmeter {command} --help lists {sorted(missing)}, its README section does not"


def test_every_option_in_a_readme_command_line_exists() -> None:
    commands = cli_commands()
    lines = re.findall(r"(?:^|[\s`(|;])tokmeter ((?:prices )?[a-z]+)([^`\n|;)]*)", README, flags=re.MULTILINE)
    checked = 0
    for command, rest in lines:
        if command not in commands:
            continue
        unknown = set(OPTION.findall(rest)) - commands[command] - {"--help"}
        assert not unknown, f"README runs tokmeter {command}{rest} but {sorted(unknown)} is no option of it"
        checked += 1
    assert checked > 40, checked


def test_every_command_that_reads_the_store_takes_store() -> None:
    without = {command for command, options in cli_commands().items() if "--store" not in options}
    assert without == {"prices show", "fingerprint"}, without  # read price data / a key only, as README says
    assert "all but `prices show`" in README and "and `fingerprint`, which reads a key" in README


def test_tz_applies_to_since_and_until_everywhere() -> None:
    for command, options in cli_commands().items():
        if "--since" in options:
            assert "--tz" in options, command
            help_text = run_cli(*command.split(), "--help", env={"COLUMNS": "300"}).stdout
            assert "in the --tz zone" in help_text and "Time zone of the --since / --until" in help_text, (
                command
            )
    rollup_help = run_cli("rollup", "--help", env={"COLUMNS": "300"}).stdout
    assert "--since" not in rollup_help and "--until" not in rollup_help


def test_help_lists_every_option_introspected() -> None:
    for command, options in cli_commands().items():
        shown = set(OPTION.findall(run_cli(*command.split(), "--help", env={"COLUMNS": "300"}).stdout))
        assert options <= shown, (command, options - shown)


def test_help_loses_no_bracketed_text_to_rich_markup() -> None:
    """Typer's rich markup takes ``[word]`` for a style: ``[[budget]]`` and ``tokmeter[otlp]`` vanished
    from --help. Every bracketed run in a command's or an option's help is a real style or is escaped."""
    from rich.errors import StyleSyntaxError
    from rich.markup import RE_TAGS
    from rich.style import Style
    from typer.main import get_command

    from tokmeter.cli import app

    def texts(group: Any, name: str) -> list[tuple[str, str]]:
        found = [(name, group.help or "")]
        for param in getattr(group, "params", []):
            found.append((f"{name} {param.name}", getattr(param, "help", None) or ""))
        for sub, command in getattr(group, "commands", {}).items():
            found += texts(command, f"{name} {sub}")
        return found

    eaten = []
    for where, text in texts(get_command(app), "tokmeter"):
        for match in RE_TAGS.finditer(text):
            escapes, tag = match.group(2), match.group(3)
            if len(escapes) % 2 or tag.startswith("/"):
                continue  # escaped, or a closing tag
            try:
                Style.parse(tag)
            except StyleSyntaxError:
                eaten.append((where, tag))
    assert not eaten, f"rich markup would swallow these (escape them with \\[): {eaten}"


def test_help_paragraphs_flow_with_the_terminal() -> None:
    """Typer's rich mode kept each docstring line break, so --help broke lines mid-sentence wherever the
    source did ("... cron and CI can act" / "on it."): every paragraph of a command's help is one line."""
    from typer.main import get_command

    from tokmeter.cli import app

    def helps(group: Any, name: str) -> list[tuple[str, str]]:
        found = [(name, group.help or "")]
        for sub, command in getattr(group, "commands", {}).items():
            found += helps(command, f"{name} {sub}")
        return found

    broken = [
        name for name, text in helps(get_command(app), "tokmeter")[1:] if "\n" in text.replace("\n\n", "")
    ]
    assert not broken, broken
