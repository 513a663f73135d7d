"""The registry's approval routes (issue 12, part B), named once for the client, the CLI and the console.

Promotion requests, approve/reject and the policy's versions and what-if come with the approvals work; until it
is on main these are the routes it is being built to, and each call answers what the registry answers (404 while
the registry has no such route). When the routes land, this table is the one place to match them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    template: str

    def path(self, **values: object) -> str:
        return self.template.format(**values)


APPROVALS: dict[str, Route] = {
    "request": Route("POST", "/models/{name}/versions/{version}/promotion-requests"),
    "list": Route("GET", "/promotion-requests"),
    "show": Route("GET", "/promotion-requests/{request_id}"),
    "approve": Route("POST", "/promotion-requests/{request_id}/approve"),
    "reject": Route("POST", "/promotion-requests/{request_id}/reject"),
    "policies": Route("GET", "/policies"),
    "what_if": Route("GET", "/policies/{version}/what-if"),
}
