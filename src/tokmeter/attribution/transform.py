"""Attribution at query time: a pure ``LazyFrame -> LazyFrame`` transform applied to the stored rows
before any filter, rollup or report, so that an edited map or default changes every result at once.

For each dimension with rules, the first rule that gives a value wins, then what the capture said (the
stored column); ``tag:NAME`` dimensions become columns of that name. A row no rule and no capture
attributes keeps a null owner: it is shown as unknown, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ..extract.attribution import RULE_TAG_PREFIX
from .rules import OWNER_DIMENSIONS, TAG_PREFIX, Attribution, Rule

_DIGEST = r"(sha256:[0-9a-f]{12})"


def tag_value(name: str) -> pl.Expr:
    """The value of tag ``name`` in a row's ``tags`` (null when absent, or in a part without tags)."""
    return (
        pl.col("tags")
        .list.eval(pl.element().filter(pl.element().struct.field("key") == name).struct.field("value"))
        .list.first()
    )


def tag_names(dims: Iterable[str]) -> list[str]:
    """The tag names among dimension or filter names (``tag:env`` -> ``env``)."""
    return list(dict.fromkeys(d[len(TAG_PREFIX) :] for d in dims if d.startswith(TAG_PREFIX)))


def attributed(lf: pl.LazyFrame, attribution: Attribution | None, tags: Iterable[str] = ()) -> pl.LazyFrame:
    """Rows with their owners as the rules say (``user``, ``team``, ``project``, ``session`` replaced)
    and a ``tag:NAME`` column for each of ``tags``."""
    rules = attribution.rules if attribution is not None else ()
    owners = {
        dim: pl.coalesce([*(_rule_value(r) for r in rules if r.dimension == dim), pl.col(dim)]).alias(dim)
        for dim in OWNER_DIMENSIONS
        if any(r.dimension == dim for r in rules)
    }
    columns = {
        f"{TAG_PREFIX}{name}": pl.coalesce(
            [*(_rule_value(r) for r in rules if r.dimension == f"{TAG_PREFIX}{name}"), tag_value(name)]
        )
        for name in dict.fromkeys(tags)
    }
    return lf.with_columns(**owners, **columns) if owners or columns else lf


def _rule_value(rule: Rule) -> pl.Expr:
    value = _source(rule)
    if rule.mapping is not None:
        keys = [k for k, _ in rule.mapping]
        value = value.replace_strict(keys, [v for _, v in rule.mapping], default=None, return_dtype=pl.String)
    return value.fill_null(rule.default) if rule.default is not None else value


def _source(rule: Rule) -> pl.Expr:
    if rule.kind == "api_key":
        return pl.col("api_key").str.extract(_DIGEST, 1) if rule.mapping is not None else pl.col("api_key")
    if rule.kind == "source":
        return pl.col("source").str.extract(rule.arg, 1)
    return tag_value(f"{RULE_TAG_PREFIX}{rule.kind}:{rule.arg}")
