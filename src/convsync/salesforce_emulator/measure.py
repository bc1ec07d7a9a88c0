"""`python -m convsync.salesforce_emulator.measure`: throughput through simple-salesforce.

Seeds 100,000 members, then times (a) reading them all with `query_all_iter` at 2,000
a page and (b) inserting 20,000 members with 100 sObject Collections calls of 200.
Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .testing import running_emulator, simple_salesforce_client


def measure(members: int = 100_000, inserts: int = 20_000) -> dict[str, Any]:
    with running_emulator() as handle:
        started = time.perf_counter()
        seeded = handle.admin.seed(campaigns=[{"Name": "Bench", "generate_members": members}])
        seed_s = time.perf_counter() - started
        campaign = seeded["campaigns"][0]["id"]
        sf = simple_salesforce_client(handle)
        handle.admin.reset_counters()

        started = time.perf_counter()
        soql = "SELECT Id, Status, LeadId, SystemModstamp FROM CampaignMember WHERE CampaignId = "
        read = sum(1 for _ in sf.query_all_iter(soql + f"'{campaign}'"))
        read_s = time.perf_counter() - started
        read_calls = handle.admin.counters()["total"]

        target = handle.admin.seed(campaigns=[{"Name": "Target"}])["campaigns"][0]["id"]
        leads = seeded["campaigns"][0]["generated_leads"][:inserts]
        handle.admin.reset_counters()
        started = time.perf_counter()
        for i in range(0, len(leads), 200):
            records = [
                {
                    "attributes": {"type": "CampaignMember"},
                    "CampaignId": target,
                    "LeadId": lead,
                    "Status": "Sent",
                }
                for lead in leads[i : i + 200]
            ]
            results = sf.restful(
                "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
            )
            assert all(r["success"] for r in results), results[:3]
        write_s = time.perf_counter() - started
        write_calls = handle.admin.counters()["total"]
    return {
        "seed": {"members": members, "seconds": round(seed_s, 3)},
        "read": {
            "records": read,
            "api_calls": read_calls,
            "seconds": round(read_s, 3),
            "records_per_second": round(read / read_s),
            "requests_per_second": round(read_calls / read_s, 1),
        },
        "insert": {
            "records": len(leads),
            "api_calls": write_calls,
            "seconds": round(write_s, 3),
            "records_per_second": round(len(leads) / write_s),
            "requests_per_second": round(write_calls / write_s, 1),
        },
    }


def main() -> None:
    sys.stdout.write(json.dumps(measure(), indent=2) + "\n")


if __name__ == "__main__":
    main()
