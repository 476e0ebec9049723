"""Price data is not ours: the checks that keep one bad price from breaking a report.

genai-prices' data (and a price file) changes with every release. Whatever it says, pricing turns a
price it cannot apply into *that price being unpriced*, with a reason, never into an exception:

* anything genai-prices raises while resolving or computing a price becomes a ``PriceProblem``;
* every coefficient (USD per token of a kind, or per request) must be a finite number with
  ``|c| < RATE_BOUND`` (1 USD, i.e. 1,000,000 USD per million tokens): else a ``PriceProblem``;
* a coefficient is kept at ``PLACES`` (24) decimal places, rounded half-even. genai-prices gives rates per
  million tokens, so any rate with at most 18 decimal places (all of genai-prices 0.2.5's data) is kept
  exactly; a longer one is off by at most 0.5e-24 USD per token.

Bounds this gives (``pricing.COST_DTYPE`` is ``Decimal(38, 24)``: 14 integer digits):

* a row's cost differs from ``genai_prices.calc_price`` by at most 1e-24 USD x (1 + 2 x its tokens):
  0 for exact coefficients, below 1e-12 USD for any row under 10^11 tokens;
* a row, a group of rows (their token sums are priced at once) or a total cannot overflow 38 digits while
  its requests plus 2 x its tokens x the largest rate of its price stay below 10^14 USD (at today's
  highest rate, $600 per million tokens, that is 8 x 10^16 tokens in one group).

``build_price_table`` leaves a key with a ``PriceProblem`` out of the table (its rows get a null cost), and
``unpriced.reason`` gives the text every list of unpriced models shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from ..errors import TokmeterError

PLACES = 24
SCALE = Decimal(1).scaleb(-PLACES)
RATE_BOUND = Decimal(1)
WIDE = 96  # digits of precision for tokmeter's own coefficient arithmetic: never rounds before SCALE
_NAMES = {
    "_c_request": "per-request fee",
    "_c_input": "input rate",
    "_c_cache_read": "cache-read rate",
    "_c_cache_write_5m": "5-minute cache-write rate",
    "_c_cache_write_1h": "1-hour cache-write rate",
    "_c_output": "output rate",
    "_c_reasoning": "reasoning rate",
}
_HINT = (
    "the rows this price would cost are listed as unpriced; give the model a price in a price file "
    "([[prices]]) or use another genai-prices version"
)


class PriceProblem(TokmeterError):
    """One price cannot be applied: genai-prices raised, or a rate is not a finite number or is out of
    range. The rows it would price are unpriced; the message is the reason shown for them."""

    def __init__(self, message: str, *, hint: str | None = _HINT) -> None:
        super().__init__(message, hint=hint)


@contextmanager
def price_data_errors(what: str) -> Iterator[None]:
    """Turn anything raised inside (by genai-prices, or by arithmetic on its numbers) into a
    ``PriceProblem`` saying ``what`` was being done."""
    try:
        yield
    except PriceProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - price data is not ours: any failure means "cannot price"
        detail = " ".join(str(exc).split())[:200]
        raise PriceProblem(
            f"genai-prices failed {what}: {type(exc).__name__}" + (f": {detail}" if detail else "")
        ) from None


def checked(coefficients: dict[str, Decimal]) -> dict[str, Decimal]:
    """The coefficients rounded half-even to ``PLACES`` decimal places; a ``PriceProblem`` when one is not a
    finite number or ``|c| >= RATE_BOUND``."""
    out = {}
    for name, value in coefficients.items():
        label = _NAMES.get(name, name)
        if not isinstance(value, Decimal) or not value.is_finite():
            raise PriceProblem(f"the {label} is not a finite number ({value})")
        if abs(value) >= RATE_BOUND:
            raise PriceProblem(
                f"the {label} of {value.normalize():f} USD per token (or request) is out of range "
                f"(tokmeter prices rates below {RATE_BOUND} USD)"
            )
        out[name] = rounded(value)
    return out


def rounded(value: Decimal) -> Decimal:
    """``value`` at ``PLACES`` decimal places, half-even, computed without any earlier rounding."""
    with localcontext(prec=WIDE):
        return value.quantize(SCALE, rounding=ROUND_HALF_EVEN)
