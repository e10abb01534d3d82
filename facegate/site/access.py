"""The access plan of a site (facegate/access_plan.py), kept in tables on the server: written by the admin role,
read by the kiosks, replicated with the people and honoured offline (each kiosk writes its copy as the same text
file beside its replica)."""

from __future__ import annotations

from collections.abc import Callable

from facegate.access_plan import AccessPlan


class SiteAccessPlan:
    """The site's access plan, read and changed by the admin role (AccessPlanStore)."""

    def __init__(self, url: str):
        self.url = url

    def plan(self) -> AccessPlan:
        raise NotImplementedError("issue 31: the site's access tables")

    def edit(self, change: Callable[[AccessPlan], AccessPlan]) -> AccessPlan:
        raise NotImplementedError("issue 31: the site's access tables")
