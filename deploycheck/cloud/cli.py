"""``deploycheck sweep`` and ``deploycheck audit``.

    deploycheck sweep --ledger out/cloud-ledger.jsonl          # everything a (crashed) run wrote down
    deploycheck sweep --run-id 20250131-142501-a1b2c3 --provider aws
    deploycheck sweep --older-than 2h --provider gcp --gcp-project my-project
    deploycheck audit --provider aws --aws-region us-east-1    # billable leftovers anywhere in the account

Sweep deletes (newest first: endpoint, endpoint config, model, stored objects) what the ledger
lists as not deleted and what LISTING the services finds tagged ``deploycheck-run``; it is
idempotent (gone is fine) and prints each resource it removed. ``--dry-run`` only lists, and works
without credentials: it then lists what the ledger holds and says which accounts it could not list.
The cloud options are ``deploycheck grade``'s (``--aws-region``, ``--gcp-region``, ``--aws-bucket``,
``--gcp-bucket``, ``--gcp-project``; ``--region`` and ``--bucket`` are short for either), so every
message that names one names an option of the command that printed it.
Offline (moto / fakes): ``--endpoint-url`` for AWS, ``--gcp-api-endpoint`` + ``--gcs-endpoint`` for GCP.

Exit status: 0 nothing is left (audit: nothing bills); 1 something could not be deleted (audit:
something bills) or a cloud call failed; 2 usage error; 3 credentials or a permission are missing.
Failures end with one line on stderr that says what to do, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Callable, TextIO

from deploycheck.cloud import registry
from deploycheck.cloud.base import AccessError, CloudError, CloudOptions, Provider, Resource, deletion_order, parse_age
from deploycheck.cloud.ledger import Ledger, default_path, pending, read
from deploycheck.cloud.offline import OfflineServices

EXIT_OK, EXIT_LEFT, EXIT_USAGE, EXIT_ACCESS = 0, 1, 2, 3
AUDIT_FLAGS = ("--since", "--until")      # audit --trail's names for grade's --trail-since/--trail-until


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--provider", choices=["aws", "gcp"], help="default: the providers in the ledger, else aws")
    ap.add_argument("--aws-region", "--gcp-region", "--region", dest="region", metavar="REGION",
                    help="AWS region (default us-east-1) or GCP region (default us-central1)")
    ap.add_argument("--aws-bucket", "--gcp-bucket", "--bucket", dest="bucket", metavar="BUCKET",
                    help="S3 / GCS bucket holding deploycheck's model objects")
    ap.add_argument("--endpoint-url", help="AWS endpoint URL (moto server), offline only")
    ap.add_argument("--gcp-project")
    ap.add_argument("--gcp-api-endpoint", help="Vertex API endpoint (the offline fake), e.g. http://127.0.0.1:PORT")
    ap.add_argument("--gcs-endpoint", help="Cloud Storage endpoint (gcp-storage-emulator), offline only")


def _offline(name: str, a: argparse.Namespace) -> bool:
    return bool(a.endpoint_url if name == "aws" else a.gcp_api_endpoint)


def provider(name: str, a: argparse.Namespace, region: str | None = None, ledger: Ledger | None = None,
             run_id: str = "sweep") -> Provider:
    """The provider the arguments name: offline when an endpoint of a stand-in is given, else real."""
    offline = OfflineServices(a.endpoint_url or "", a.gcs_endpoint or "", a.gcp_api_endpoint or "")
    is_offline = _offline(name, a)
    region = region or a.region
    opts = CloudOptions(cloud="moto" if is_offline else name, aws_region=region or "us-east-1",
                        gcp_region=region or "us-central1", aws_bucket=a.bucket, gcp_bucket=a.bucket,
                        gcp_project=a.gcp_project)
    return registry.provider(opts.cloud or name, name, opts, run_id, ledger or Ledger(default_path(run_id)),
                             offline if is_offline else None)


def sweep(a: argparse.Namespace, out: TextIO) -> int:
    ledger: Ledger | None = None
    todo: OrderedDict[tuple[str, str, str], Resource] = OrderedDict()
    run_ids: set[str] = set()
    if a.ledger:
        if not Path(a.ledger).exists():
            print(f"no ledger at {a.ledger}: nothing to sweep", file=out)
            return EXIT_OK
        ledger = Ledger(a.ledger)
        entries = read(a.ledger)
        todo.update((r.key(), r) for r in pending(entries, a.run_id) if not a.provider or r.provider == a.provider)
        run_ids = {a.run_id} if a.run_id else {e.run_id for e in entries if e.run_id}
    elif a.run_id:
        run_ids = {a.run_id}
        p = default_path(a.run_id)
        if p.exists():
            ledger = Ledger(p)
            todo.update((r.key(), r) for r in pending(read(p), a.run_id) if not a.provider or r.provider == a.provider)
    # listing the services: what is tagged with the run(s) / older than the cut-off
    names = {a.provider} if a.provider else ({r.provider for r in todo.values()} or {"aws"})
    unlisted: dict[str, str] = {}
    if a.dry_run:      # without credentials: what the ledger holds, and which accounts were not listed
        for n in sorted(names):
            try:
                _check_credentials([n], a)
            except CloudError as e:
                unlisted[n] = str(e)
        if unlisted and ledger is None:
            raise AccessError(f"{'; '.join(unlisted.values())} (a dry run without credentials lists what a "
                              "ledger holds: add --ledger FILE)")
    else:
        _check_credentials(sorted(names), a)
    for n in sorted(set(names) - set(unlisted)):
        regions = {r.region for r in todo.values() if r.provider == n and r.region} or {a.region or ""}
        for region in sorted(regions):
            prov = provider(n, a, region or None, ledger)
            if a.older_than:
                found = prov.leftovers(None, older_than_s=parse_age(a.older_than))
            else:
                found = [r for rid in sorted(run_ids) for r in prov.leftovers(rid)]
            for r in found:
                todo.setdefault(r.key(), r)
    groups: dict[tuple[str, str], list[Resource]] = {}
    for r in todo.values():
        groups.setdefault((r.provider, r.region), []).append(r)
    removed = gone = 0
    errors: list[str] = []
    access = False
    for (pname, region), items in groups.items():
        if a.dry_run:
            for r in sorted(items, key=deletion_order):
                print(f"would remove {r}", file=out)
            continue
        prov = provider(pname, a, region or None, ledger)
        # named resources first: a `pending:` ledger line (killed before the name was known) is then
        # usually already gone; otherwise the provider looks it up by its labels
        for r in sorted(items, key=deletion_order):
            try:
                if prov.delete(r):
                    removed += 1
                    print(f"removed {r}", file=out)
                else:
                    gone += 1
                if ledger is not None:
                    ledger.deleted(r, note="sweep")
            except CloudError as e:      # keep going, report at the end
                errors.append(f"{r}: {e}")
                access = access or isinstance(e, AccessError)
    if errors:
        print("could not remove:\n  " + "\n  ".join(errors), file=out)
        print(f"deploycheck sweep: {len(errors)} resources are left; fix the cause above and run the same command "
              "again", file=sys.stderr)
        return EXIT_ACCESS if access else EXIT_LEFT
    if a.dry_run:
        print(f"{len(todo)} resources would be removed", file=out)
        for n, why in sorted(unlisted.items()):
            print(f"the {n} account was not listed ({why}); the {n} lines above are what the ledger holds", file=out)
    else:
        what = f"run {', '.join(sorted(run_ids))}" if run_ids and not a.older_than else "deploycheck's"
        age = f" (older than {a.older_than})" if a.older_than else ""
        print(f"sweep done: removed {removed}, already gone {gone}; nothing of {what} is left{age}", file=out)
    return EXIT_OK


def _check_credentials(names: list[str], a: argparse.Namespace) -> None:
    """Real clouds: credentials first (one line if they do not work), before any listing or deleting."""
    for n in names:
        if not _offline(n, a):
            provider(n, a).identity()


def audit(a: argparse.Namespace, out: TextIO) -> int:
    _check_credentials([a.provider or "aws"], a)
    prov = provider(a.provider or "aws", a)
    if a.trail:
        return audit_trail(prov, a, out)
    items = prov.audit_account()
    where = f"{prov.name} {prov.region}" + (f" project {getattr(prov, 'project', '')}" if prov.name == "gcp" else "")
    if not items:
        print(f"no billable leftovers in {where}", file=out)
        return EXIT_OK
    total = sum(i.hourly_usd or 0 for i in items)
    print(f"{len(items)} billable resources in {where} (~${total:.2f}/h, approximate prices):", file=out)
    for i in items:
        print(f"  {i}", file=out)
    return EXIT_LEFT


def audit_trail(prov: Provider, a: argparse.Namespace, out: TextIO) -> int:
    """``audit --trail``: each deployed resource's timeline in the lab window, from the account's own
    audit trail; exit 1 when something it created was never deleted."""
    from deploycheck.cloud import trail
    start, end = trail.window(prov.name, a.since, a.until, flags=AUDIT_FLAGS)
    rep = prov.trail(start, end)
    print(f"audit trail of {rep.where}, {rep.window()}:", file=out)
    for line in rep.evidence():
        print(f"  {line}", file=out)
    if not rep.lines:
        print("  no model, endpoint configuration or endpoint was created or deleted in this window", file=out)
    if rep.missing:
        region = a.region or prov.region
        print(f"{len(rep.missing)} never deleted; delete them with:", file=out)
        for t in rep.missing:
            print(f"  {trail.delete_command(prov.name, t, region)}", file=out)
        return EXIT_LEFT
    print(f"everything created in the window was deleted (~${rep.total_usd():.2f} at list price)", file=out)
    return EXIT_OK


def _run(command: str, fn: Callable[[argparse.Namespace, TextIO], int], a: argparse.Namespace) -> int:
    """One line on stderr for a cloud failure (credentials and permissions: exit 3), never a traceback."""
    try:
        return fn(a, sys.stdout)
    except AccessError as e:
        print(f"deploycheck {command}: {e}", file=sys.stderr)
        return EXIT_ACCESS
    except CloudError as e:
        print(f"deploycheck {command}: {e}", file=sys.stderr)
        return EXIT_LEFT


def sweep_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck sweep", description="delete leftover deploycheck cloud resources")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--ledger", metavar="FILE", help="a cloud-ledger.jsonl written by a run")
    what.add_argument("--older-than", metavar="AGE", help="tagged resources created longer ago than AGE (30m, 2h, 1d)")
    ap.add_argument("--run-id", help="resources tagged with this run (with --ledger: only this run's lines)")
    ap.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    _common(ap)
    a = ap.parse_args(argv)
    if not (a.ledger or a.older_than or a.run_id):
        ap.error("say what to sweep: --run-id ID, --ledger FILE or --older-than AGE")
    if a.older_than:
        try:
            parse_age(a.older_than)
        except ValueError as e:
            ap.error(str(e))
    return _run("sweep", sweep, a)


def audit_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck audit",
                                 description="list billable leftovers (endpoints, notebooks, VMs) in an account or project")
    _common(ap)
    ap.add_argument("--trail", action="store_true",
                    help="instead: the timeline of each model deployment in the lab window from the account's own "
                         "audit trail (CloudTrail event history / GCP Admin Activity audit logs), with its cost at "
                         "list price; exit 1 when something was never deleted")
    ap.add_argument("--since", metavar="TIME", help="--trail: start of the lab window (ISO 8601; default: as far "
                                                    "back as the trail keeps events, 90 days on AWS)")
    ap.add_argument("--until", metavar="TIME", help="--trail: end of the lab window (default: now)")
    a = ap.parse_args(argv)
    if not a.trail and (a.since or a.until):
        ap.error("--since/--until go with --trail")
    if a.trail:
        from deploycheck.cloud import trail
        try:
            trail.window(a.provider or "aws", a.since, a.until, flags=AUDIT_FLAGS)
        except ValueError as e:
            ap.error(str(e))
    return _run("audit", audit, a)
