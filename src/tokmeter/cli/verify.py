"""``tokmeter verify``: check the store against its tamper-evident ledger."""

from __future__ import annotations

from ..errors import VerificationFailed
from .app import app
from .options import QuietOpt, StoreOpt, console, open_store


@app.command()
def verify(store: StoreOpt = None, quiet: QuietOpt = False) -> None:
    """Recompute the ledger's hash chain and every stored part's digest.

    Reports parts that were modified, are missing, or are not in the ledger (unexpected), and a broken chain;
    exits 5 when anything is wrong.

    [dim]Example: tokmeter verify --store /srv/tokmeter[/]
    """
    target = open_store(store, existing=True)
    with target.reading():
        result = target.verify()
    out = console()
    if not quiet:
        out.print(f"ledger entries {result.entries:,}, parts checked {result.parts_checked:,}")
        for label, items in (
            ("chain", result.chain_errors),
            ("modified", result.modified),
            ("missing", result.missing),
            ("unexpected", result.unexpected),
            ("in flight (being committed, not a problem)", result.in_flight),
        ):
            for item in items:
                out.print(f"  {label}: {item}", markup=False)
    if not result.ok:
        problems = (
            len(result.chain_errors) + len(result.modified) + len(result.missing) + len(result.unexpected)
        )
        raise VerificationFailed(
            f"the store does not match its ledger ({problems} problem(s))",
            hint="restore the listed parts from backup, or re-ingest the captures they came "
            "from; in a shared bucket an unexpected part may also have been written by "
            "a writer that crashed before recording it (its rows were read again)",
        )
    if not quiet:
        out.print("ok: every part matches the ledger")
