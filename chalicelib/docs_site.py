"""`GET /docs`: Swagger UI over `/openapi.json`, from the npm package swagger-ui-dist.

No CDN: the page loads Swagger UI's files from this API (`GET /docs/{asset}`), read from the
folder SWAGGER_UI_DIR names (the local stack sets it to the copy `make setup` installs in
.tools). Without it (the cloud), the page and its files answer 404 DOCS_NOT_SERVED.
Only the files the page uses are served, by name from a fixed table: a request can never
name another file (no path traversal, whatever the encoding).
"""
import html
import json
from pathlib import Path
from typing import Literal

from chalice import Response

from . import config
from .errors import ErrorCode, PaySettleError
from .openapi import Operation, Param, Reply

# name -> Content-Type
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}
ASSET_CACHE_SECONDS = 3600

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>PaySettle API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{prefix}/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{prefix}/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: {spec_url},
      dom_id: "#swagger-ui",
      deepLinking: true,
      displayOperationId: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""


def _folder() -> Path:
    configured = config.swagger_ui_dir()
    if not configured:
        raise PaySettleError(ErrorCode.DOCS_NOT_SERVED)
    return Path(configured)


def _read(folder: Path, name: str) -> str:
    try:
        return (folder / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise PaySettleError(ErrorCode.DOCS_NOT_SERVED,
                             detail=f"SWAGGER_UI_DIR has no readable {name} "
                                    "(make setup installs swagger-ui-dist into .tools)") from None


def page(prefix: str) -> Response:
    """The Swagger UI page; `prefix` is where the API is mounted ("" or "/<stage>")."""
    folder = _folder()
    if not all((folder / name).is_file() for name in ASSETS):
        _read(folder, "swagger-ui-bundle.js")  # raises the explanation
    # The prefix comes from API Gateway's request context: escaped for HTML and for a script.
    text = PAGE.format(prefix=html.escape(prefix, quote=True),
                       spec_url=json.dumps(prefix + "/openapi.json").replace("<", "\\u003c"))
    return Response(body=text, status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8",
                             "Cache-Control": "no-cache"})


def asset(name: str) -> Response:
    """One of Swagger UI's files, by its name in ASSETS."""
    folder = _folder()
    if name not in ASSETS:
        raise PaySettleError(ErrorCode.DOCS_ASSET_NOT_FOUND, field="asset",
                             detail="must be one of " + ", ".join(sorted(ASSETS)))
    return Response(body=_read(folder, name), status_code=200,
                    headers={"Content-Type": ASSETS[name],
                             "Cache-Control": f"public, max-age={ASSET_CACHE_SECONDS}",
                             "X-Content-Type-Options": "nosniff"})


OPERATIONS = [
    Operation(
        "GET", "/openapi.json", "getOpenApiDocument", "This OpenAPI document", "documentation",
        description="`servers` is where this request reached the API (the stage prefix behind "
                    "API Gateway, `/` on the local stack).",
        ok=Reply("The OpenAPI 3.1 document of every route.", schema={"type": "object"})),
    Operation(
        "GET", "/docs", "getDocsPage", "Swagger UI over this document", "documentation",
        description="Served where SWAGGER_UI_DIR is set (the local stack); 404 elsewhere.",
        ok=Reply("The Swagger UI page.", media_type="text/html", schema={"type": "string"}),
        errors=(ErrorCode.DOCS_NOT_SERVED,)),
    Operation(
        "GET", "/docs/{asset}", "getDocsAsset", "A file of Swagger UI", "documentation",
        params=[Param("asset", Literal[tuple(ASSETS)])],  # type: ignore[misc]
        ok=Reply("The file.", media_type=("text/css", "text/javascript"),
                 schema={"type": "string"}),
        errors=(ErrorCode.DOCS_NOT_SERVED, ErrorCode.DOCS_ASSET_NOT_FOUND)),
]
