"""The city website adapter: POST the press release as JSON, read back its public URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

from .domain import PressRelease
from .errors import IntegrationFailed

INTEGRATION = "website"


def website_payload(release: PressRelease) -> dict[str, Any]:
    """Return the JSON document the website receives."""
    return {
        "case_id": str(release.case_id),
        "title": release.title,
        "body": release.body,
        "files": [file.model_dump(mode="json") for file in release.files],
        "activity_name": release.activity_name,
        "activity_date": release.activity_date.isoformat(),
    }


class HttpWebsite:
    """Posts news to the city website over HTTP."""

    def __init__(self, url: str | None, *, token: str | None = None, timeout: float = 15.0):
        self._url = url
        self._token = token
        self._timeout = timeout
        # Built once: a fresh client would load the CA bundle again for every post, which
        # took a fifth of publishing's CPU under 20 concurrent cases.
        self._tls = httpx.create_ssl_context()

    async def post(self, release: PressRelease, idempotency_key: str) -> str:
        """Publish the release; a repeated post with the same key is the website's to ignore."""
        if not self._url:
            raise IntegrationFailed(INTEGRATION, "WEBSITE_URL is not configured")
        headers = {"Idempotency-Key": idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with httpx.AsyncClient(timeout=self._timeout, verify=self._tls) as client:
                response = await client.post(
                    self._url, json=website_payload(release), headers=headers
                )
        except httpx.HTTPError as error:
            raise IntegrationFailed(INTEGRATION, f"{type(error).__name__}: {error}") from error
        if response.is_error:
            raise IntegrationFailed(
                INTEGRATION, f"{self._url} answered HTTP {response.status_code}"
            )
        return _published_url(response)


def _published_url(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        document = None
    url: object = document.get("url") if isinstance(document, dict) else None
    if isinstance(url, str) and url:
        return url
    location: str = response.headers.get("location", "")
    if location:
        return urljoin(str(response.request.url), location)
    raise IntegrationFailed(INTEGRATION, "the website answered without the published URL")
