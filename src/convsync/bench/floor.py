"""The floor each scenario is compared with: the least Salesforce work that moves the
same records, with the same client against the same emulator.

The floor moves a scenario's `Work` with the gateway's own calls (its SOQL, page and
collection sizes, lookups and write path: Bulk API 2.0 where the sync wrote in bulk),
minus everything that is the sync's own: no database, no tasks, no bookkeeping, no
re-reads. It is measured in the same run, on the same machine, so `scenario / floor`
is what the sync's own work costs; a ratio below 1 means the floor is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from convsync.bench.errors import BenchError
from convsync.bench.model import CHANGED, SEEDED, Measured, Work
from convsync.bench.world import Bench, seeded_campaign
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.salesforce.records import MemberChange, NewLead, NewMember
from convsync.salesforce.streams import PAGE_SIZE
from convsync.workers import root


def _landed(results: Sequence[RecordResult], what: str) -> list[str]:
    refused = [r for r in results if r.outcome is not WriteOutcome.OK]
    if refused:
        raise BenchError(f"floor: Salesforce refused {len(refused)} {what}: {refused[0].message}")
    return [str(r.salesforce_id) for r in results]


def measure_floor(bench: Bench, work: Work, *, bulk: bool) -> Measured:
    """Move `work` with the gateway's own calls and nothing else, on the write path the
    sync took (`bulk`: Bulk API 2.0 jobs; else collections of 200)."""
    gateway = root.adapters().salesforce
    serial = bench.serial()
    scratch = bench.admin.seed(
        campaigns=[seeded_campaign(f"floor {serial}", work.updates, f"floor{serial}.example.com")]
    )["campaigns"][0]
    targets = list(scratch["members"])
    known = max(work.inserts - work.unknown_people, 0)
    people = (
        bench.admin.seed(
            leads=[
                {"LastName": f"Known {i}", "Company": "Bench", "Email": f"k{i}.{serial}@x.example"}
                for i in range(known)
            ]
        )["leads"]
        if known
        else []
    )
    unknown = [f"f{i}.{serial}@floor.example.com" for i in range(work.unknown_people)]
    headers = {"Sforce-Query-Options": f"batchSize={PAGE_SIZE}"}

    def move() -> dict[str, int]:
        read = 0
        for query in work.reads:
            read += sum(1 for _ in bench.sf.query_all_iter(query, True, headers=headers))
        if work.change_checks:
            gateway.changed_campaigns(work.change_checks, None, include_status_changes=False)
        found = gateway.find_people_by_email(unknown) if unknown else {}
        if found:
            raise BenchError(f"floor: {len(found)} new people already in Salesforce")
        leads = gateway.create_leads([NewLead(email) for email in unknown], use_bulk=bulk)
        lead_ids = _landed(leads, "Leads") + people
        inserts = [
            NewMember(scratch["id"], SEEDED, lead_id=lead_id)
            for lead_id in lead_ids[: work.inserts]
        ]
        inserted = _landed(gateway.insert_members(inserts, use_bulk=bulk), "members")
        updates = [MemberChange(member_id, CHANGED) for member_id in targets[: work.updates]]
        updated = _landed(gateway.update_members(updates, use_bulk=bulk), "updates")
        return {
            "read": read,
            "looked_up": len(unknown),
            "leads": len(leads),
            "inserted": len(inserted),
            "updated": len(updated),
        }

    moved, measured = bench.counted(move)
    measured.detail = moved
    measured.kind = "bulk" if bulk and work.writes else "collections"
    return measured
