"""Price overrides: the price file format, its errors, and what aliases, custom prices with effective dates
and discounts do to row costs (through the real vectorized pricing, against hand-computed figures or
genai_prices.calc_price). Also the settings precedence that finds the price file."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from test_pricing import _random_row, _reference_cost
from tokmeter.config import Settings
from tokmeter.errors import ConfigError
from tokmeter.pricing.overrides import Alias, CustomPrice, PriceOverrides, load_overrides
from tokmeter.pricing.quote import quote
from tokmeter.pricing.table import price_rows
from tokmeter.schema import polars_schema

FULL = """
[discounts]
providers = { anthropic = 12 }
models = { "gpt-4o" = 20, "claude-haiku-4-5" = 0 }

[aliases]
"prod-gpt4o-eu" = "gpt-4o"
"chat-large" = { model = "claude-sonnet-4-5", provider = "anthropic" }

[[prices]]
model = "house-llm-7b"
provider = "acme"
effective_from = 2026-01-01
input = 0.20
cache_read = 0.05
cache_write = 0.25
cache_write_1h = 0.40
output = 0.80

[[prices]]
model = "house-llm-7b"
provider = "acme"
effective_from = "2026-06-01"
input = 0.15
output = "0.60"
"""


def price_file(tmp_path: Path, text: str, name: str = "prices.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def overrides(tmp_path: Path, text: str) -> PriceOverrides:
    return load_overrides(price_file(tmp_path, text))


def row(model: str, when: datetime, provider: str | None = "acme", **tokens: int) -> dict:
    counts = {
        "input_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
    } | tokens
    return {
        "request_id": f"{model}-{when}",
        "response_id": None,
        "timestamp": when,
        "user": None,
        "provider": provider,
        "model": model,
        "endpoint": None,
        "stream": False,
        "status": 200,
        **counts,
        "usage_source": "reported",
        "complete": True,
        "source": "t",
        "source_offset": 0,
    }


def priced(rows: list[dict], prices: PriceOverrides | None, breakdown: bool = False) -> pl.DataFrame:
    return price_rows(
        pl.DataFrame(rows, schema=polars_schema()).lazy(), prices, breakdown=breakdown
    ).collect()


def at(day: str, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


# ---- the file --------------------------------------------------------------------------------------
def test_full_file_loads_into_typed_values(tmp_path: Path) -> None:
    path = price_file(tmp_path, FULL)
    loaded = load_overrides(path)
    assert loaded.provider_discounts == {"anthropic": Decimal(12)}
    assert loaded.model_discounts == {"gpt-4o": Decimal(20), "claude-haiku-4-5": Decimal(0)}
    assert loaded.aliases == {
        "prod-gpt4o-eu": Alias("gpt-4o"),
        "chat-large": Alias("claude-sonnet-4-5", "anthropic"),
    }
    assert loaded.prices == (
        CustomPrice(
            "house-llm-7b",
            "acme",
            date(2026, 1, 1),
            input=Decimal("0.20"),
            output=Decimal("0.80"),
            cache_read=Decimal("0.05"),
            cache_write=Decimal("0.25"),
            cache_write_1h=Decimal("0.40"),
        ),
        CustomPrice("house-llm-7b", "acme", date(2026, 6, 1), input=Decimal("0.15"), output=Decimal("0.60")),
    )
    assert loaded.label.startswith(f"{path.resolve()} sha256:") and len(loaded.sha256) == 64


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[discount]\n", "discount", "unknown section"),
        ("[discounts]\nproviders = { openai = 150 }\n", "discounts.providers.openai", "not a percentage"),
        ("[discounts]\nproviders = { openai = -5 }\n", "discounts.providers.openai", "not a percentage"),
        ("[discounts]\nmodels = { x = true }\n", "discounts.models.x", "expected a number"),
        ("[discounts]\nusers = { bob = 5 }\n", "discounts.users", "unknown key"),
        ("[aliases]\nx = 3\n", "aliases.x", "expected a model name"),
        ('[[prices]]\nmodel = "m"\ninput = 1\n', "prices[0] (model 'm').output", "missing"),
        (
            '[[prices]]\nmodel = "m"\ninput = "abc"\noutput = 1\n',
            "prices[0] (model 'm').input",
            "expected a number",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = -1\noutput = 1\n',
            "prices[0] (model 'm').input",
            "negative price",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\nouput = 2\n',
            "prices[0] (model 'm').ouput",
            "unknown key",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\neffective_from = "March"\n',
            "prices[0] (model 'm').effective_from",
            "expected a date",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\neffective_from = 2026-01-01T00:00:00\n',
            "prices[0] (model 'm').effective_from",
            "expected a date",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\ncache_write_1h = 3\n',
            "prices[0] (model 'm').cache_write_1h",
            "without cache_write",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 0.0000000000001\noutput = 1\n',
            "prices[0] (model 'm').input",
            "decimal places",
        ),
        (
            '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\n[[prices]]\nmodel = "m"\ninput = 2\noutput = 2\n',
            "prices[1] (model 'm')",
            "a second price",
        ),
        ("prices = 3\n", "prices", "expected [[prices]]"),
    ],
)
def test_bad_price_file_names_file_key_and_hint(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = price_file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_overrides(path)
    assert caught.value.message.startswith(f"{path.resolve()}: {key}: "), caught.value.message
    assert problem in caught.value.message and caught.value.hint


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_overrides(price_file(tmp_path, "[discounts]\nproviders = { openai = }\n"))
    with pytest.raises(ConfigError, match="no such price file") as caught:
        load_overrides(tmp_path / "nope.toml", "$TOKMETER_PRICES")
    assert "$TOKMETER_PRICES" in (caught.value.hint or "")


# ---- custom prices and effective dates -------------------------------------------------------------
def test_custom_price_applies_from_each_utc_date(tmp_path: Path) -> None:
    prices = overrides(tmp_path, FULL)
    million = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    rows = [
        row("house-llm-7b", at("2025-12-31", 23, 59), **million),  # before the first date: no price at all
        row("house-llm-7b", at("2026-01-01"), **million),  # first price: 0.20 + 0.80
        row("house-llm-7b", at("2026-05-31", 23, 59), **million),
        row("house-llm-7b", at("2026-06-01"), **million),  # second price: 0.15 + 0.60
        row("house-llm-7b", at("2026-06-01"), provider="other", **million),  # entries are for acme only
    ]
    got = priced(rows, prices)
    assert got["cost_usd"].to_list() == [None, Decimal("1.0"), Decimal("1.0"), Decimal("0.75"), None]
    assert got["priced_as"].to_list() == [None, *["custom:house-llm-7b"] * 3, None]


def test_custom_price_prices_every_token_kind(tmp_path: Path) -> None:
    prices = overrides(tmp_path, FULL)
    tokens = {
        "input_tokens": 1_000_000,
        "cache_read_tokens": 200_000,
        "cache_write_tokens": 300_000,
        "cache_write_1h_tokens": 100_000,
        "output_tokens": 400_000,
        "reasoning_tokens": 50_000,
    }
    got = priced([row("house-llm-7b", at("2026-02-01"), **tokens)], prices, breakdown=True).row(0, named=True)
    # uncached 500k * 0.20, reads 200k * 0.05, writes 200k * 0.25 + 100k * 0.40, output 400k * 0.80
    assert got["cost_input_usd"] == Decimal("0.10")
    assert got["cost_cache_read_usd"] == Decimal("0.01")
    assert got["cost_cache_write_usd"] == Decimal("0.09")
    assert got["cost_output_usd"] == Decimal("0.32")
    assert got["cost_usd"] == Decimal("0.52")
    # the second price has no cache rates: genai-prices' rule prices cache tokens at the input rate
    later = priced([row("house-llm-7b", at("2026-07-01"), **tokens)], prices).row(0, named=True)
    assert later["cost_usd"] == Decimal("0.15") + Decimal("0.24")


def test_custom_price_wins_over_genai_prices_from_its_date(tmp_path: Path) -> None:
    prices = overrides(
        tmp_path, '[[prices]]\nmodel = "gpt-4o-mini"\neffective_from = 2026-01-01\ninput = 1\noutput = 2\n'
    )
    before = row(
        "gpt-4o-mini", at("2025-12-31", 12), provider="openai", input_tokens=1000, output_tokens=1000
    )
    after = before | {"timestamp": at("2026-01-01")}
    got = priced([before, after], prices)
    assert got["cost_usd"][0] == _reference_cost(before)
    assert got["cost_usd"][1] == Decimal("0.003")
    assert got["priced_as"].to_list() == ["openai:gpt-4o-mini", "custom:gpt-4o-mini"]


def test_provider_specific_price_beats_the_generic_one(tmp_path: Path) -> None:
    text = (
        '[[prices]]\nmodel = "m"\ninput = 1\noutput = 1\n'
        '[[prices]]\nmodel = "m"\nprovider = "acme"\neffective_from = 2026-01-01\ninput = 2\noutput = 2\n'
    )
    rows = [row("m", at("2026-02-01"), provider=p, input_tokens=1_000_000) for p in ("acme", "other", None)]
    rows.append(
        row("m", at("2025-02-01"), provider="acme", input_tokens=1_000_000)
    )  # before acme's own price
    assert priced(rows, overrides(tmp_path, text))["cost_usd"].to_list() == [
        Decimal(2),
        Decimal(1),
        Decimal(1),
        Decimal(1),
    ]


# ---- aliases ----------------------------------------------------------------------------------------
def test_alias_prices_a_deployment_as_its_model(tmp_path: Path) -> None:
    prices = overrides(
        tmp_path,
        '[aliases]\n"prod-gpt4o-eu" = "gpt-4o"\n'
        '"chat-large" = { model = "claude-sonnet-4-5", provider = "anthropic" }\n',
    )
    tokens = {"input_tokens": 12_000, "cache_read_tokens": 2_000, "output_tokens": 700}
    when = at("2026-03-01", 9)
    rows = [
        row("prod-gpt4o-eu", when, provider="azure", **tokens),
        row("gpt-4o", when, provider="azure", **tokens),
        row("chat-large", when, provider="internal-gateway", **tokens),
        row("claude-sonnet-4-5", when, provider="anthropic", **tokens),
    ]
    got = priced(rows, prices)
    assert got["model"].to_list() == [
        "prod-gpt4o-eu",
        "gpt-4o",
        "chat-large",
        "claude-sonnet-4-5",
    ]  # unchanged
    assert got["cost_usd"][0] == got["cost_usd"][1] == _reference_cost(rows[1]) is not None
    assert got["cost_usd"][2] == got["cost_usd"][3] == _reference_cost(rows[3]) is not None
    assert got["priced_as"].to_list() == [
        "azure:gpt-4o",
        "azure:gpt-4o",
        "anthropic:claude-sonnet-4-5",
        "anthropic:claude-sonnet-4-5",
    ]
    assert priced(rows[:1], None)["cost_usd"].to_list() == [None]  # without the file: unpriced


def test_alias_to_a_custom_price(tmp_path: Path) -> None:
    prices = overrides(
        tmp_path,
        '[aliases]\n"ft:my-llama" = "house-llm-7b"\n'
        '[[prices]]\nmodel = "house-llm-7b"\ninput = 1\noutput = 1\n',
    )
    got = priced([row("ft:my-llama", at("2026-02-01"), input_tokens=1_000_000)], prices)
    assert got["cost_usd"].to_list() == [Decimal(1)] and got["priced_as"].to_list() == ["custom:house-llm-7b"]


# ---- discounts --------------------------------------------------------------------------------------
def test_discounts_model_beats_provider_and_zero_exempts(tmp_path: Path) -> None:
    prices = overrides(
        tmp_path,
        "[discounts]\nproviders = { openai = 15, anthropic = 10 }\n"
        'models = { "gpt-4o-mini" = 0, "claude-haiku-4-5" = 25 }\n',
    )
    rng = random.Random(7)
    models = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("openai", "o3"),
        ("anthropic", "claude-haiku-4-5-20251001"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("google", "gemini-2.5-pro"),
        (None, "gpt-4o"),
    ]
    rows = [
        _random_row(rng, i) | dict(zip(("provider", "model"), rng.choice(models), strict=True))
        for i in range(600)
    ]
    factor = {
        "gpt-4o": Decimal("0.85"),
        "gpt-4o-mini-2024-07-18": 1,
        "o3": Decimal("0.85"),
        "claude-haiku-4-5-20251001": Decimal("0.75"),
        "claude-sonnet-4-5-20250929": Decimal("0.90"),
        "gemini-2.5-pro": 1,
    }
    got = priced(rows, prices)["cost_usd"].to_list()
    expected = [_reference_cost(r) * factor[r["model"]] for r in rows]
    assert got == expected  # exact: a discount multiplies the coefficients, no rounding needed here


def test_discount_applies_to_custom_prices_too(tmp_path: Path) -> None:
    prices = overrides(tmp_path, FULL.replace("anthropic = 12", "acme = 50"))
    got = priced(
        [row("house-llm-7b", at("2026-07-01"), input_tokens=1_000_000, output_tokens=1_000_000)], prices
    )
    assert got["cost_usd"].to_list() == [Decimal("0.375")]
    assert got["priced_as"].to_list() == ["custom:house-llm-7b -50%"]


def test_awkward_discount_keeps_costs_exact_decimals(tmp_path: Path) -> None:
    prices = overrides(tmp_path, "[discounts]\nproviders = { openai = 33.333333 }\n")
    rng = random.Random(8)
    rows = [_random_row(rng, i) | {"provider": "openai", "model": "gpt-4o"} for i in range(200)]
    got = priced(rows, prices, breakdown=True)
    parts = got.select(
        pl.sum_horizontal("cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd")
    )
    assert parts.to_series().to_list() == got["cost_usd"].to_list()
    assert got["cost_usd"].sum() == sum(got["cost_usd"].to_list())
    # each per-token rate is rounded to 1e-18 USD: far below a nano-dollar per request
    for value, r in zip(got["cost_usd"].to_list(), rows, strict=True):
        assert abs(value - _reference_cost(r) * (1 - Decimal("0.33333333"))) < Decimal("1e-12")


# ---- where the price file comes from -----------------------------------------------------------------
def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "xdg" / "tokmeter"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text('prices = "team-prices.toml"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TOKMETER_CONFIG", raising=False)
    monkeypatch.delenv("TOKMETER_PRICES", raising=False)
    assert prices_of(Settings.resolve()) == (
        config_dir / "team-prices.toml",
        f"config file {config_dir / 'config.toml'}",
    )
    monkeypatch.setenv("TOKMETER_PRICES", "/env/prices.toml")
    assert prices_of(Settings.resolve()) == (Path("/env/prices.toml"), "$TOKMETER_PRICES")
    assert prices_of(Settings.resolve(prices="/flag/prices.toml")) == (Path("/flag/prices.toml"), "--prices")
    monkeypatch.delenv("TOKMETER_PRICES")
    (config_dir / "config.toml").unlink()
    assert prices_of(Settings.resolve()) == (None, "default")


def prices_of(settings: Settings) -> tuple[Path | None, str]:
    return settings.prices, settings.prices_from


@pytest.mark.parametrize(
    "text, problem",
    [
        ('price = "x.toml"\n', "price: unknown key"),
        ("prices = 3\n", "prices: expected a file path"),
        ("prices = \n", "not valid TOML"),
    ],
)
def test_bad_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, problem: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("TOKMETER_CONFIG", str(config))
    monkeypatch.delenv("TOKMETER_PRICES", raising=False)
    with pytest.raises(ConfigError, match=problem) as caught:
        Settings.resolve()
    assert str(config) in caught.value.message and caught.value.hint


def test_named_config_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKMETER_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.delenv("TOKMETER_PRICES", raising=False)
    with pytest.raises(ConfigError, match="no such config file"):
        Settings.resolve()


def test_quote_shows_rates_and_dates_that_apply(tmp_path: Path) -> None:
    prices = overrides(
        tmp_path,
        FULL + '[[prices]]\nmodel = "gpt-4o-mini"\neffective_from = 2026-01-01\ninput = 1\noutput = 2\n',
    )
    genai = quote("openai", "gpt-4o-mini", at("2025-12-01"), prices)
    assert genai is not None and genai.price.priced_as == "openai:gpt-4o-mini"
    assert genai.price.until == date(2026, 1, 1)  # the custom price takes over then
    custom = quote("acme", "house-llm-7b", at("2026-02-01"), prices)
    assert custom is not None and (custom.price.effective_from, custom.price.until) == (
        date(2026, 1, 1),
        date(2026, 6, 1),
    )
    assert custom.tiers[0].per_million == {
        "input": Decimal("0.2"),
        "cache read": Decimal("0.05"),
        "cache write 5m": Decimal("0.25"),
        "cache write 1h": Decimal("0.4"),
        "output": Decimal("0.8"),
        "reasoning": Decimal("0.8"),
    }
    assert quote("acme", "house-llm-7b", at("2025-02-01"), prices) is None
    discounted = quote("anthropic", "claude-sonnet-4-5", at("2026-02-01"), prices)
    assert discounted is not None and discounted.price.discount_key == "provider anthropic"
    assert [t.per_million["input"] for t in discounted.tiers] == [
        Decimal("2.64"),
        Decimal("5.28"),
    ]  # $3, $6 - 12%


def test_readme_price_file_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = next(block for block in readme.split("```toml\n")[1:] if "[discounts]" in block).split("```")[0]
    loaded = overrides(tmp_path, example)
    assert loaded.aliases["prod-gpt4o-eu"] == Alias("gpt-4o")
    assert [p.effective_from for p in loaded.prices] == [date(2026, 1, 1), date(2026, 6, 1), None]
    support = priced([row("ft:gpt-4o-mini:acme:support", at("2026-02-01"), input_tokens=1_000_000)], loaded)
    assert support["cost_usd"].to_list() == [Decimal("0.30")]
