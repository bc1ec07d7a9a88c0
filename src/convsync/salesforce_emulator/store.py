"""The emulated org: its state (`org`) with the rules Salesforce enforces per object.

`Store` is what the HTTP layer, the admin endpoints, the seed and test helpers share.
Its state, indexes and transactions are in `org`; the per-object rules are in
`campaigns` and `people`, so no module has to hold the whole org at once.
"""

from __future__ import annotations

from .campaigns import CampaignRules
from .people import PeopleRules


class Store(CampaignRules, PeopleRules):
    """The org: five objects, their indexes and the rules Salesforce enforces on them."""
