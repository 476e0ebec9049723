"""Tables that fit the width they are printed in, without ever cutting a number or an id.

Rich shrinks a table that is too wide by cutting cells short (``$0.01…``, ``claud…``). ``show_table``
decides the widths itself instead. Number columns (right-justified) keep the width of their widest
figure; text columns (names, ids) fold onto more lines, never below ``TEXT_FLOOR`` characters (or their
natural width, when that is smaller). In order, the first layout that fits is used:

1. the table as Rich draws it, when it fits at its natural width;
2. boxed, the headers of figures wrapped at their words, when no text then needs folding;
3. compact: no box, one space between columns, a rule under the header and above the totals, text
   folded where it must (the narrowest columns are given their whole width first);
4. vertical: one block of ``column  value`` lines per row (and one for the totals).

Off a terminal, with no ``$COLUMNS``, a table is as wide as it needs to be (a pipe or a file is never cut).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Column, Table

TEXT_FLOOR = 12  # the narrowest a folded text column becomes before a narrower layout is tried


@dataclass(slots=True)
class _Need:
    numeric: bool
    least: int  # the narrowest content width that cuts nothing
    natural: int  # the width with nothing wrapped or folded


def fit_width(out: Console) -> int | None:
    """The width a table must fit in: None (any) off a terminal unless $COLUMNS says otherwise."""
    return out.width if out.is_terminal or os.environ.get("COLUMNS") else None


def show_table(out: Console, table: Table, *, empty: str | None = None) -> None:
    """Print ``table`` to ``out`` in the first layout that fits (see the module's docstring); with no
    rows and an ``empty`` message, print that message instead of an empty frame."""
    if not table.row_count and empty is not None:
        out.print(empty, markup=False, highlight=False)
        return
    width = fit_width(out)
    needs = [_need(out, column) for column in table.columns]
    if width is None:
        _print_unbounded(out, table, needs)
    elif sum(n.natural for n in needs) + _extra(table, boxed=True) <= width:
        out.print(_foldable(table, needs))
    elif _unfolded(needs) + _extra(table, boxed=True) <= width:
        out.print(_sized(table, needs, width - _extra(table, boxed=True)))
    elif _least(needs) + _extra(table, boxed=False) <= width:
        out.print(_sized(_compact(table), needs, width - _extra(table, boxed=False)))
    else:
        out.print(vertical(table))


def _print_unbounded(out: Console, table: Table, needs: list[_Need]) -> None:
    natural = sum(n.natural for n in needs) + _extra(table, boxed=True)
    saved = out.width
    out.width = max(saved, natural, _annotation_width(table))
    try:
        out.print(_foldable(table, needs))
    finally:
        out.width = saved


def _annotation_width(table: Table) -> int:
    from rich.text import Text

    texts = [t for t in (table.title, table.caption) if isinstance(t, str)]
    return max((Text.from_markup(t).cell_len for t in texts), default=0)


def _need(out: Console, column: Column) -> _Need:
    from rich.measure import Measurement

    numeric = column.justify == "right"
    options = out.options.update(width=10_000)
    cells = [Measurement.get(out, options, cell) for cell in (*column.cells, column.footer)]
    header = Measurement.get(out, options, column.header)
    natural = max([header.maximum, *(m.maximum for m in cells)])
    if numeric:
        return _Need(True, max([header.minimum, *(m.maximum for m in cells)]), natural)
    # a text column folds, but not below its header's longest word nor its longest word up to TEXT_FLOOR
    return _Need(False, max(header.minimum, min(TEXT_FLOOR, max(m.minimum for m in cells))), natural)


def _least(needs: list[_Need]) -> int:
    return sum(n.least for n in needs)


def _unfolded(needs: list[_Need]) -> int:
    """The width with no text folded (only the headers of figures wrapped at their words)."""
    return sum(n.least if n.numeric else n.natural for n in needs)


def _extra(table: Table, *, boxed: bool) -> int:
    """Width taken by borders and padding: boxed, a bar and a space each side of every cell; compact, one
    space between columns."""
    count = len(table.columns)
    return 3 * count + 1 if boxed else count - 1


def _foldable(table: Table, needs: list[_Need]) -> Table:
    for column, need in zip(table.columns, needs, strict=True):
        column.overflow = "fold"
        column.no_wrap = need.numeric
    return table


def _sized(table: Table, needs: list[_Need], room: int) -> Table:
    """Numbers at their widest figure; text columns share what is left, each up to its natural width: the
    narrowest first, so that short ids and dates stay whole and the long paths and names fold."""
    widths = [n.least for n in needs]
    spare = room - sum(widths)
    text = sorted((i for i, n in enumerate(needs) if not n.numeric), key=lambda i: needs[i].natural)
    for i in text:
        step = max(0, min(needs[i].natural - widths[i], spare))
        widths[i] += step
        spare -= step
    for column, _need, width in zip(table.columns, needs, widths, strict=True):
        column.width = width
        column.overflow = "fold"
        column.no_wrap = False
    return table


def _compact(table: Table) -> Table:
    from rich import box

    table.box = box.SIMPLE
    table.show_edge = False
    table.padding = (0, 0)
    return table


def vertical(table: Table) -> RenderableType:
    """The table as one block per row: each column's header and value on a line of their own."""
    from rich.console import Group
    from rich.table import Table as Grid
    from rich.text import Text

    labels = [_plain(column.header).replace("\n", " ") for column in table.columns]
    blocks: list[RenderableType] = []
    if table.title:
        blocks.append(table.title)
    rows = list(zip(*(list(column.cells) for column in table.columns), strict=True))
    if table.show_footer:
        rows.append(tuple(column.footer for column in table.columns))
    for index, row in enumerate(rows):
        grid = Grid.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in zip(labels, row, strict=True):
            if _plain(value) or index < len(rows) - 1 or not table.show_footer:
                grid.add_row(label, value)
        blocks.extend([grid, Text("")])
    if table.caption:
        blocks.append(table.caption)
    return Group(*blocks)


def _plain(cell: RenderableType) -> str:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(cell).plain if isinstance(cell, str) else ""
