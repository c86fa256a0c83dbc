"""The boundary with boto3: every library call to AWS goes through ``call`` or ``paginate``.

``call`` translates botocore errors into the runbook's exception tree (by code, chaining the original);
the clients factory records each call (operation, names, request id, outcome, duration) for progress
callbacks and the audit trail. ``paginate`` follows NextToken (or IAM's Marker) to the end, through
short and empty pages: App Runner ships no paginators (docs/apprunner-behavior.md L1).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from botocore import xform_name

from runbook_lib.clients import STABLE, Clients, is_mutating
from runbook_lib.errors import map_aws_error
from runbook_lib.ownership import tag_map
from runbook_lib.shared_reads import SHARED_MAX_PAGES, Snapshot, resource_of

__all__ = [
    "CREATED_TAGS_KEEP_S", "MAX_PAGES", "call", "console_url", "pages", "paginate", "polled_since",
    "remember_tags", "resource_tags", "shared_listing", "wall_clock",
]  # fmt: skip


MAX_PAGES = 1000
T = TypeVar("T")


def call(clients: Clients, service: str, operation: str, *, resource: str, **kwargs: Any) -> dict[str, Any]:
    """Call ``service.operation(**kwargs)``; AWS failures become RunbookErrors naming ``resource``.

    Reads of what the runbook never changes (STABLE: the caller, VPCs, subnets) are memoized for the
    clients' life, and every read inside ``clients.read_only_scope()`` (a plan) for that scope; any
    mutating call forgets the memo of changeable reads. Waits poll outside such scopes, so they always
    see fresh state.
    """
    key = None
    if is_mutating(operation):
        clients.forget_reads()
    elif (service, operation) in STABLE or clients.read_only:
        key = (service, operation, json.dumps(kwargs, sort_keys=True, default=str))
        if key in clients.reads:
            return copy.deepcopy(clients.reads[key])
    method = getattr(clients.client(service), xform_name(operation))
    try:
        response = method(**kwargs)
    except Exception as err:  # the one translation point
        raise map_aws_error(err, resource=resource, operation=operation) from err
    finally:
        _note_change(clients, service, operation, kwargs)
    if key is not None:
        clients.reads[key] = copy.deepcopy(response)
    return response


def _note_change(clients: Clients, service: str, operation: str, request: dict[str, Any]) -> None:
    """A changing App Runner call (answered or not) hides every shared listing sent before it, and
    the tags this process remembers of that resource (``resource_tags``)."""
    if service != "apprunner" or not is_mutating(operation):
        return
    changed = resource_of(request)
    if changed is None:
        return
    known = getattr(clients, "created_tags", {})
    for arn in [a for a in known if resource_of({"ResourceArn": a}) == changed]:
        del known[arn]
    shared = getattr(clients, "shared", None)
    if shared is not None:
        shared.note_mutation(changed)


CREATED_TAGS_KEEP_S = 600.0  # remembered tags older than this are read again


def wall_clock(clients: Clients) -> Callable[[], float]:
    """The clock of the batch's shared listings (``shared_reads``), or the wall clock outside a batch."""
    shared = getattr(clients, "shared", None)
    return shared.clock if shared is not None else time.time


def polled_since(clients: Clients, read: Callable[[float], T]) -> Callable[[], T]:
    """A wait's poll of ``read(since)``: ``since`` is when the previous poll read (for the first, now:
    after the change the wait is for), so a shared listing serves a poll only if sent after that."""
    wall = wall_clock(clients)
    since = [wall()]

    def poll() -> T:
        try:
            return read(since[0])
        finally:
            since[0] = wall()

    return poll


def remember_tags(clients: Clients, arn: str, tags: Any) -> None:
    """Note that this process has just created App Runner resource ``arn`` with ``tags`` (the create's
    answer carries its ARN; its request, the tags): see ``resource_tags``."""
    getattr(clients, "created_tags", {})[arn] = (tag_map(tags), wall_clock(clients)())


def resource_tags(clients: Clients, arn: str, *, resource: str) -> dict[str, str]:
    """The tags of an App Runner resource as a mapping (ListTagsForResource).

    A resource this process created with those tags moments ago (``remember_tags``: a later step of the
    same run, e.g. the service step checking the connector and revision it uses) is answered without a
    request while nothing can have changed its tags since: no changing call of this process on it (``call``
    forgets them), none that another process of the batch noted (``shared_reads``), and at most
    ``CREATED_TAGS_KEEP_S`` ago. What it cannot see: someone outside the runbook re-tagging, within
    those minutes, a resource this run has just created.
    """
    known = getattr(clients, "created_tags", {}).get(arn)
    shared = getattr(clients, "shared", None)
    if known is not None and wall_clock(clients)() - known[1] <= CREATED_TAGS_KEEP_S:
        changed = resource_of({"ResourceArn": arn})
        if shared is None or shared.changed_since(lambda r: r == changed) <= known[1]:
            return dict(known[0])
    found = call(clients, "apprunner", "ListTagsForResource", resource=resource, ResourceArn=arn)
    return tag_map(found.get("Tags"))


def shared_listing(
    clients: Clients, operation: str, key: str, *, resource: str, concerns: Callable[[str], bool],
    max_age: float, since: float = 0.0, narrowed: dict[str, Any] | None = None, **kwargs: Any,
) -> Snapshot:  # fmt: skip
    """The items of an App Runner List call, from a snapshot shared by the batch's processes when one is
    fresh enough for ``concerns`` (``runbook_lib.shared_reads``), else listed now (and shared).

    ``narrowed``: request members that narrow the listing to what the caller looks for
    (``ConnectionName=…``); the caller then picks its items out itself. They are sent, and nothing is
    shared, when nothing may be (no batch, ``max_age`` 0) or when the last shared pass took more than
    ``SHARED_MAX_PAGES`` pages (a big account: the caller's own name is one request).
    """
    shared = getattr(clients, "shared", None)
    if narrowed is not None and (
        shared is None or max_age <= 0 or shared.over_pages(operation, SHARED_MAX_PAGES)
    ):
        kwargs, shared = {**kwargs, **narrowed}, None

    def fetch() -> tuple[list[dict[str, Any]], int]:
        read = list(pages(clients, "apprunner", operation, resource=resource, **kwargs))
        return [item for page in read for item in page.get(key, [])], len(read)

    if shared is None:
        items, count = fetch()
        return Snapshot(items, 0.0, count)
    return shared.listing(operation, fetch, concerns=concerns, max_age=max_age, since=since)


def pages(
    clients: Clients, service: str, operation: str, *, resource: str, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Each page of a List call, at most MAX_PAGES: the one paging loop, for the three token styles —
    ``NextToken`` (App Runner, EC2, …), ``Marker`` with ``IsTruncated`` (IAM) and Route 53's next
    record name and type (ListResourceRecordSets)."""
    paging: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        page = call(clients, service, operation, resource=resource, **kwargs, **paging)
        yield page
        paging = _next_page(page)
        if not paging:
            return


def _next_page(page: dict[str, Any]) -> dict[str, str]:
    """The request members that ask for the page after ``page`` ({} on the last page)."""
    if page.get("NextToken"):
        return {"NextToken": page["NextToken"]}
    if page.get("IsTruncated") and page.get("Marker"):
        return {"Marker": page["Marker"]}
    if page.get("IsTruncated") and page.get("NextRecordName"):
        start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page.get("NextRecordType")}
        if page.get("NextRecordIdentifier"):
            start["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        return start
    return {}


def paginate(
    clients: Clients, service: str, operation: str, key: str, *, resource: str, **kwargs: Any
) -> list[dict[str, Any]]:
    """All items under ``key`` across every page of a List call (see ``pages``)."""
    items: list[dict[str, Any]] = []
    for page in pages(clients, service, operation, resource=resource, **kwargs):
        items.extend(page.get(key, []))
        if not _next_page(page):
            return items
    raise RuntimeError(f"{operation} returned more than {MAX_PAGES} pages")


def console_url(region: str, fragment: str) -> str:
    """A link to the App Runner console of the region (``fragment`` like ``/connections``)."""
    return f"https://{region}.console.aws.amazon.com/apprunner/home?region={region}#{fragment}"
