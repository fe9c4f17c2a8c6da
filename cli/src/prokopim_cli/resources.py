"""`prokopim resources`: register crew and equipment, list them, issue calendar feeds.

Talks to the scheduling service over HTTP as a user of the office's head role (or the
role given), with a token signed by the local secret (JWT_SECRET or .data/jwt-secret).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import typer
from prokopim_kit.auth import issue_token

app = typer.Typer(help="Crew members, equipment items and calendar feeds of an office.")

HEADS = {"bandung": "ka-bagian", "tangerang": "kepala-bagian"}
URL = typer.Option("http://127.0.0.1:8002", envvar="SCHEDULING_URL", help="scheduling's URL")
ROLE = typer.Option(None, help="the role to act as (default: the office's head of section)")
DATA = typer.Option(Path(".data"), help="where the local JWT secret is kept")


def _client(url: str, office: str, role: str | None, data_dir: Path) -> httpx.Client:
    secret = os.environ.get("JWT_SECRET") or (data_dir / "jwt-secret").read_text().strip()
    acting = role or HEADS.get(office, "ka-bagian")
    token = issue_token(secret, subject=f"{acting}-cli", role=acting, name=f"{acting} (cli)")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        typer.echo(f"refused ({response.status_code}): {response.text}", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


def _all(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Return every item of a paged list, following its `next` links."""
    items: list[dict[str, Any]] = []
    link: str | None = path
    while link is not None:
        page = _answer(http.get(link))
        items += page["resources"]
        link = page["next"]
    return items


def _show(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        what = ", ".join(row["roles"]) if row["type"] == "crew" else row["kind"]
        extra = row.get("contact") or row.get("condition") or ""
        typer.echo(f"{row['resource_id']}  {row['name']:<28} {what:<32} {extra}")


@app.command("add-crew")
def add_crew(
    office: str,
    name: str,
    role: list[str] = typer.Option(..., "--can", help="an SOP role the person can fill"),
    contact: str | None = typer.Option(None),
    url: str = URL,
    as_role: str | None = ROLE,
    data_dir: Path = DATA,
) -> None:
    """Register a crew member of OFFICE (bandung, tangerang)."""
    with _client(url, office, as_role, data_dir) as http:
        body = {"name": name, "roles": role, "contact": contact}
        _show([_answer(http.post(f"/offices/{office}/crew", json=body))])


@app.command("add-equipment")
def add_equipment(
    office: str,
    kind: str,
    label: str,
    url: str = URL,
    as_role: str | None = ROLE,
    data_dir: Path = DATA,
) -> None:
    """Register an equipment item of OFFICE; KIND is an equipment input of its SOPs."""
    with _client(url, office, as_role, data_dir) as http:
        body = {"kind": kind, "label": label}
        _show([_answer(http.post(f"/offices/{office}/equipment", json=body))])


@app.command("condition")
def condition(
    office: str,
    resource_id: str,
    state: str = typer.Argument(..., help="available or in-repair"),
    url: str = URL,
    as_role: str | None = ROLE,
    data_dir: Path = DATA,
) -> None:
    """Mark an equipment item available or in repair."""
    with _client(url, office, as_role, data_dir) as http:
        items = _all(http, f"/offices/{office}/equipment")
        item = next((i for i in items if i["resource_id"] == resource_id), None)
        if item is None:
            typer.echo(f"office {office} has no equipment item {resource_id}", err=True)
            raise typer.Exit(1)
        body = {"kind": item["kind"], "label": item["name"], "condition": state}
        _show([_answer(http.put(f"/offices/{office}/equipment/{resource_id}", json=body))])


@app.command("list")
def list_resources(
    office: str, url: str = URL, as_role: str | None = ROLE, data_dir: Path = DATA
) -> None:
    """List an office's crew members and equipment items."""
    with _client(url, office, as_role, data_dir) as http:
        _show(_all(http, f"/offices/{office}/crew"))
        _show(_all(http, f"/offices/{office}/equipment"))


@app.command("feed")
def feed(
    office: str,
    resource_id: str | None = typer.Option(None, help="a crew member or item; else the office"),
    url: str = URL,
    as_role: str | None = ROLE,
    data_dir: Path = DATA,
) -> None:
    """Issue a subscribable iCalendar feed URL (its secret is shown only now)."""
    with _client(url, office, as_role, data_dir) as http:
        scope = "office"
        if resource_id is not None:
            crew = _all(http, f"/offices/{office}/crew")
            scope = "crew" if any(c["resource_id"] == resource_id for c in crew) else "equipment"
        body = {"scope": scope, "office": office, "resource_id": resource_id}
        created = _answer(http.post("/feeds", json=body))
    typer.echo(json.dumps({"feed_id": created["feed_id"], "url": f"{url}{created['path']}"}))
