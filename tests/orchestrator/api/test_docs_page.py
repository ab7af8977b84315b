"""/docs: the interactive API docs, from this server's own files under its own content security policy."""

from __future__ import annotations

import re

from api_support import Api

from orchestrator.api import docs_page


def test_docs_load_swagger_ui_from_this_server_and_allow_only_their_own_inline_script(api: Api) -> None:
    with api.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith(docs_page.ASSETS_URL) for s in sources), sources  # no CDN
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source

        policy = page.headers["content-security-policy"]
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "http" not in script_src
        assert policy == docs_page.policy_for(page.text) and "'sha256-" in script_src
        assert client.get("/openapi.json").json()["info"]["title"] == "wan-i2v orchestrator"

        # Every other page keeps the strict policy.
        assert "sha256" not in client.get("/api/health").headers.get("content-security-policy", "")
