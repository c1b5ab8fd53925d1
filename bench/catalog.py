"""The fixed vocabulary the workload draws from: services, their actions, regions and teams.

Every action a request names comes from this catalog, so engines without action wildcards
(Cedar) can expand each wildcard into the exact set of catalog actions it covers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    resource_type: str
    verbs: tuple[str, ...]  # action names without the service prefix

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(f"{self.name}:{verb}" for verb in self.verbs)


SERVICES: tuple[Service, ...] = (
    Service("orders", "order", ("GetOrder", "ListOrders", "CreateOrder", "UpdateOrder", "CancelOrder",
                                "DeleteOrder")),
    Service("invoices", "invoice", ("GetInvoice", "ListInvoices", "CreateInvoice", "PayInvoice",
                                    "VoidInvoice", "DeleteInvoice")),
    Service("inventory", "item", ("GetItem", "ListItems", "PutItem", "UpdateItem", "DeleteItem")),
    Service("reports", "report", ("GetReport", "ListReports", "RunReport", "DeleteReport")),
    Service("tickets", "ticket", ("GetTicket", "ListTickets", "CreateTicket", "UpdateTicket", "CloseTicket",
                                  "DeleteTicket")),
)

SERVICE_BY_NAME: dict[str, Service] = {service.name: service for service in SERVICES}
ALL_ACTIONS: tuple[str, ...] = tuple(action for service in SERVICES for action in service.actions)

REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1")
TEAMS: tuple[str, ...] = ("red", "blue", "green", "amber")

# Verb prefixes that roles grant with a trailing wildcard, e.g. `orders:Get*`.
READ_VERBS: tuple[str, ...] = ("Get", "List")
WRITE_VERBS: tuple[str, ...] = ("Create", "Update", "Put")

# Resource id prefixes that guardrail denies single out, e.g. `order/locked-*`.
LOCKED_PREFIX = "locked-"
FROZEN_PREFIX = "frozen-"


def matches(pattern: str, text: str) -> bool:
    """The workload's only wildcard form: a literal, `*`, or a literal prefix followed by `*`.
    Every engine in the comparison implements this form exactly."""
    if pattern.endswith("*"):
        return text.startswith(pattern[:-1])
    return text == pattern


def actions_matching(pattern: str) -> tuple[str, ...]:
    return tuple(action for action in ALL_ACTIONS if matches(pattern, action))
