"""The Salesforce user's missing permissions, one line each, root causes first."""

from __future__ import annotations

from convsync.domain.access import Ability, Need, ObjectAccess, missing_access

EVERYTHING = ObjectAccess(
    "Lead",
    readable=True,
    createable=True,
    updateable=True,
    deletable=True,
    readable_fields=frozenset({"Email", "LastName"}),
    createable_fields=frozenset({"Email", "LastName"}),
    updateable_fields=frozenset({"Email", "LastName"}),
)
READ_EMAIL = Need("Lead", Ability.READ, "to find people by email", "Email")
CREATE_LEAD = Need("Lead", Ability.CREATE, "to create Leads")
CREATE_EMAIL = Need("Lead", Ability.CREATE, "to create Leads", "Email")


def test_nothing_is_missing_when_describe_grants_every_need() -> None:
    assert missing_access([READ_EMAIL, CREATE_LEAD, CREATE_EMAIL], {"Lead": EVERYTHING}) == ()


def test_a_hidden_field_is_one_line_naming_the_field_and_why() -> None:
    granted = {"Lead": ObjectAccess("Lead", readable=True, readable_fields=frozenset())}
    assert missing_access([READ_EMAIL], granted) == (
        "the Salesforce user cannot read the field Lead.Email (needed to find people by email)",
    )


def test_an_object_it_cannot_read_is_one_line_for_all_its_needs() -> None:
    assert missing_access([READ_EMAIL, CREATE_LEAD, CREATE_EMAIL], {}) == (
        "the Salesforce user cannot read Lead records "
        "(needed to find people by email, to create Leads)",
    )


def test_a_missing_object_permission_stands_for_its_fields() -> None:
    granted = {"Lead": ObjectAccess("Lead", readable=True, readable_fields=frozenset({"Email"}))}
    assert missing_access([READ_EMAIL, CREATE_LEAD, CREATE_EMAIL], granted) == (
        "the Salesforce user cannot create Lead records (needed to create Leads)",
    )


def test_a_read_only_field_is_listed_for_the_write_that_needs_it() -> None:
    read_only = ObjectAccess(
        "Lead",
        readable=True,
        createable=True,
        readable_fields=frozenset({"Email"}),
        createable_fields=frozenset(),
    )
    assert missing_access([READ_EMAIL, CREATE_LEAD, CREATE_EMAIL], {"Lead": read_only}) == (
        "the Salesforce user cannot set the field Lead.Email on new records "
        "(needed to create Leads)",
    )


def test_one_line_per_permission_with_every_reason_for_it() -> None:
    imports = Need("Lead", Ability.READ, "to import members", "Email")
    hidden = {"Lead": ObjectAccess("Lead", readable=True, createable=True)}
    assert missing_access([imports, READ_EMAIL, CREATE_LEAD, CREATE_EMAIL], hidden) == (
        "the Salesforce user cannot read the field Lead.Email "
        "(needed to import members, to find people by email, to create Leads)",
    )
