"""Salesforce as its users see it: the demo's edits and reads done through the REST API.

The story edits a member in Salesforce and reads statuses back as a Salesforce user
would, through the emulator's API with this run's login, not through convsync, so
what it shows is what an org would hold.
"""

from __future__ import annotations

from typing import Any

from convsync.demo.services import Emulator, Login


class SalesforceUser:
    """Someone editing the org by hand (REST API calls, counted like any other)."""

    def __init__(self, emulator: Emulator, login: Login) -> None:
        from simple_salesforce.api import Salesforce

        from convsync.salesforce_emulator.testing import AdminClient, CaBundleSession

        session = CaBundleSession(emulator.ca_file)
        self.admin = AdminClient(emulator.url, session)
        token = session.post(
            f"{emulator.url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": login.client_id,
                "client_secret": login.client_secret,
                "username": login.username,
                "password": login.password + login.security_token,
            },
            timeout=30,
        )
        token.raise_for_status()
        body = token.json()
        self.sf: Any = Salesforce(
            instance_url=body["instance_url"], session_id=body["access_token"], session=session
        )

    def close(self) -> None:
        """Hang up (the emulator then stops without waiting for our keep-alive connection)."""
        self.admin.session.close()

    def calls(self) -> dict[str, int]:
        counters = self.admin.counters()
        return {"total": int(counters["total"]), **counters["by_endpoint"]}

    def patch_members(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 200):  # one collection call per 200
            self.sf.restful(
                "composite/sobjects",
                method="PATCH",
                json={"allOrNone": True, "records": records[start : start + 200]},
            )

    def member(self, member_id: str) -> tuple[str, str]:
        """(email, status) of a CampaignMember."""
        row = self.sf.CampaignMember.get(member_id)
        return str(row["Email"]).lower(), str(row["Status"])

    def member_status(self, campaign_id: str, lead_id: str) -> str | None:
        from simple_salesforce.format import format_soql

        query = format_soql(
            "SELECT Status FROM CampaignMember WHERE CampaignId = {} AND LeadId = {}",
            campaign_id,
            lead_id,
        )
        rows = self.sf.query(query)["records"]
        return str(rows[0]["Status"]) if rows else None
