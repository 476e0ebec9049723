"""``python -m tokmeter`` and the ``tokmeter`` console script.

``tokmeter statusline`` (with at most ``--store``) is answered here without the command line's imports
(Typer, Rich, polars: 0.2 s), because Claude Code runs it on every prompt; so is a repeated ``tokmeter
report``, from the result the same report kept beside the store (``report/kept.py``, ``replay.py``).
Any other arguments, ``--help`` included, go to the full command line (``tokmeter.cli``), which runs the
same code."""

from __future__ import annotations

import sys


def _statusline_store(args: list[str]) -> tuple[bool, str | None]:
    """(whether ``args`` are ``statusline`` with at most ``--store``, the store given)."""
    if args[:1] != ["statusline"]:
        return False, None
    rest = args[1:]
    if not rest:
        return True, None
    if len(rest) == 2 and rest[0] == "--store":
        return True, rest[1]
    if len(rest) == 1 and rest[0].startswith("--store="):
        return True, rest[0].removeprefix("--store=")
    return False, None


def main() -> None:
    fast, store = _statusline_store(sys.argv[1:])
    if fast and "://" not in (store or ""):
        from .config import resolve_store
        from .render.statusline import standard_input, status_input, status_line

        root = resolve_store(store)
        sys.stdout.write(status_line(status_input(standard_input()), root) + "\n")
        return
    if sys.argv[1:2] != ["report"]:  # the only command whose results are kept
        _command_line()
        return
    from .report.kept import prepare
    from .report.replay import answer

    plan = prepare(sys.argv[1:])
    if plan is None:
        _command_line()
    else:
        answer(plan, _command_line)  # the kept result of the same report, else the report, kept


def _command_line() -> None:
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
