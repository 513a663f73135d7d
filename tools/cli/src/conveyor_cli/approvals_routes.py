"""The registry's approval routes (issue 12, part B), named once for the client, the CLI and the console.

They are the routes of the approvals work (governance_api on w/approvals): promotion requests per model,
approve/reject, the policy's versions, and a draft replayed over the recorded decisions (the what-if). Until that
work is on main each call answers what the registry answers (404 while it has no such route), and the console
says so; this table is the one place to match them if they move.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    template: str

    def path(self, **values: object) -> str:
        return self.template.format(**values)


APPROVALS: dict[str, Route] = {
    "request": Route("POST", "/models/{name}/promotions"),
    "list": Route("GET", "/models/{name}/promotions"),
    "show": Route("GET", "/models/{name}/promotions/{request_id}"),
    "approve": Route("POST", "/models/{name}/promotions/{request_id}/approve"),
    "reject": Route("POST", "/models/{name}/promotions/{request_id}/reject"),
    "policies": Route("GET", "/policy/versions"),
    "policy": Route("GET", "/policy/versions/{version}"),
    "what_if": Route("POST", "/policy/test"),  # a policy document replayed over every recorded decision
}
