"""``deploycheck sweep`` and ``deploycheck audit``.

    deploycheck sweep --ledger out/cloud-ledger.jsonl          # everything a (crashed) run wrote down
    deploycheck sweep --run-id 20250131-142501-a1b2c3 --provider aws
    deploycheck sweep --older-than 2h --provider gcp --gcp-project my-project
    deploycheck audit --provider aws --region us-east-1        # billable leftovers anywhere in the account

Sweep deletes (newest first: endpoint, endpoint config, model, stored objects) what the ledger
lists as not deleted and what LISTING the services finds tagged ``deploycheck-run``; it is
idempotent (gone is fine) and prints each resource it removed. ``--dry-run`` only lists.
Offline (moto / fakes): ``--endpoint-url`` for AWS, ``--gcp-api-endpoint`` + ``--gcs-endpoint`` for GCP.
Exit status: 0 when nothing is left, 1 when something could not be deleted (or, for audit, when
something bills), 2 on usage errors.
"""
from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from deploycheck.cloud.base import CloudError, Resource, parse_age
from deploycheck.cloud.ledger import Ledger, default_path, pending, read


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--provider", choices=["aws", "gcp"], help="default: the providers in the ledger, else aws")
    ap.add_argument("--region", help="AWS region (default us-east-1) or GCP region (default us-central1)")
    ap.add_argument("--bucket", help="S3 / GCS bucket holding deploycheck's model objects")
    ap.add_argument("--endpoint-url", help="AWS endpoint URL (moto server), offline only")
    ap.add_argument("--gcp-project")
    ap.add_argument("--gcp-api-endpoint", help="Vertex API endpoint (the offline fake), e.g. http://127.0.0.1:PORT")
    ap.add_argument("--gcs-endpoint", help="Cloud Storage endpoint (gcp-storage-emulator), offline only")


def provider(name: str, a: argparse.Namespace, region: str | None = None, ledger: Ledger | None = None,
             run_id: str = "sweep"):
    ledger = ledger or Ledger(default_path(run_id))
    if name == "aws":
        from deploycheck.cloud.aws import AwsProvider
        return AwsProvider(region or a.region or "us-east-1", run_id=run_id, ledger=ledger, bucket=a.bucket,
                           endpoint_url=a.endpoint_url, offline=bool(a.endpoint_url))
    from deploycheck.cloud.gcp import GcpProvider
    return GcpProvider(a.gcp_project, region or a.region or "us-central1", run_id=run_id, ledger=ledger,
                       bucket=a.bucket, api_endpoint=a.gcp_api_endpoint, storage_endpoint=a.gcs_endpoint,
                       offline=bool(a.gcp_api_endpoint), retry_initial_s=0.2 if a.gcp_api_endpoint else 1.0)


def _explain(name: str, e: BaseException) -> str:
    if isinstance(e, CloudError):
        return str(e)
    if name == "aws":
        from deploycheck.cloud.aws import explain
    else:
        from deploycheck.cloud.gcp import explain
    return explain(e)


def sweep(a: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    ledger: Ledger | None = None
    todo: "OrderedDict[tuple, Resource]" = OrderedDict()
    groups: dict[tuple[str, str], list[Resource]] = {}
    run_ids: set[str] = set()
    if a.ledger:
        ledger = Ledger(a.ledger)
        if not Path(a.ledger).exists():
            print(f"no ledger at {a.ledger}: nothing to sweep", file=out)
            return 0
        entries = read(a.ledger)
        for r in pending(entries, a.run_id):
            if a.provider and r.provider != a.provider:
                continue
            todo[r.key()] = r
        run_ids = {e.get("run_id", "") for e in entries if e.get("run_id")} if not a.run_id else {a.run_id}
    elif a.run_id:
        run_ids = {a.run_id}
        p = default_path(a.run_id)
        if p.exists():
            ledger = Ledger(p)
            for r in pending(read(p), a.run_id):
                if not a.provider or r.provider == a.provider:
                    todo[r.key()] = r
    # listing the services: what is tagged with the run(s) / older than the cut-off
    names = {a.provider} if a.provider else ({r.provider for r in todo.values()} or {"aws"})
    regions: dict[str, set[str]] = {n: {r.region for r in todo.values() if r.provider == n and r.region} for n in names}
    for n in sorted(names):
        for region in sorted(regions[n] or {a.region or ""}):
            try:
                prov = provider(n, a, region or None, ledger)
                if a.older_than:
                    found = prov.leftovers(None, older_than_s=parse_age(a.older_than))
                else:
                    found = [r for rid in sorted(run_ids) for r in prov.leftovers(rid)]
            except Exception as e:  # noqa: BLE001
                print(f"could not list {n} resources{' in ' + region if region else ''}: {_explain(n, e)}", file=out)
                return 1
            for r in found:
                todo.setdefault(r.key(), r)
    for r in todo.values():
        groups.setdefault((r.provider, r.region), []).append(r)
    order = {"sagemaker-endpoint": 0, "vertex-endpoint": 0, "sagemaker-endpoint-config": 1,
             "sagemaker-model": 2, "vertex-model": 2, "s3-object": 3, "gcs-object": 3}
    removed = gone = 0
    errors: list[str] = []
    for (pname, region), items in groups.items():
        prov = provider(pname, a, region or None, ledger)
        # named resources first: a `pending:` ledger line (killed before the name was known) is then
        # usually already gone; otherwise the provider looks it up by its labels
        for r in sorted(items, key=lambda r: (r.name.startswith("pending:"), order.get(r.kind, 9))):
            if a.dry_run:
                print(f"would remove {r}", file=out)
                continue
            try:
                if prov.delete(r):
                    removed += 1
                    print(f"removed {r}", file=out)
                else:
                    gone += 1
                if ledger is not None:
                    ledger.deleted(r, by="sweep")
            except Exception as e:  # noqa: BLE001 - keep going, report at the end
                errors.append(f"{r}: {_explain(pname, e)}")
    if errors:
        print("could not remove:\n  " + "\n  ".join(errors), file=out)
        return 1
    if a.dry_run:
        print(f"{len(todo)} resources would be removed", file=out)
    else:
        print(f"sweep done: removed {removed}, already gone {gone}; nothing of "
              + (f"run {', '.join(sorted(run_ids))}" if run_ids and not a.older_than else "deploycheck's")
              + " is left" + (f" (older than {a.older_than})" if a.older_than else ""), file=out)
    return 0


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
    return sweep(a)


def audit(a: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    prov = provider(a.provider or "aws", a)
    try:
        items = prov.audit_account()
    except Exception as e:  # noqa: BLE001
        print(f"audit failed: {_explain(a.provider or 'aws', e)}", file=out)
        return 1
    where = f"{prov.name} {prov.region}" + (f" project {prov.project}" if prov.name == "gcp" else "")
    if not items:
        print(f"no billable leftovers in {where}", file=out)
        return 0
    total = sum(i.hourly_usd or 0 for i in items)
    print(f"{len(items)} billable resources in {where} (~${total:.2f}/h, approximate prices):", file=out)
    for i in items:
        print(f"  {i}", file=out)
    return 1


def audit_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck audit",
                                 description="list billable leftovers (endpoints, notebooks, VMs) in an account or project")
    _common(ap)
    return audit(ap.parse_args(argv))


def main(argv: list[str] | None = None) -> Any:  # pragma: no cover - convenience
    argv = list(sys.argv[1:] if argv is None else argv)
    return {"sweep": sweep_main, "audit": audit_main}[argv[0]](argv[1:])
