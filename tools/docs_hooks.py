"""MkDocs hooks: the pages that are generated from the code at build time, so they never drift.

* `<!-- generated: error-table -->` becomes the one error table of `chalicelib/errors.py`; bold
  upper-case code names elsewhere on that page (`**BUSY**`) must be codes of the table, or the
  build fails (a renamed or removed code cannot leave a stale explanation behind).
* `<!-- generated: openapi-reference -->` becomes the OpenAPI document of `chalicelib/openapi.py`
  rendered as Markdown (every operation, its parameters, body, answers and the schemas), and the
  document itself is served beside the pages as `openapi.json`.
* Mermaid's script is served with the site when `make docs` / `make test` installed it
  (`.tools/node_modules/mermaid`), so the diagrams need no CDN; without it Material loads mermaid
  from its CDN in the reader's browser.
* A Markdown link from a page to a file of the repository outside `docs/` (`../chalicelib/x.py`)
  is shown as the file's path: the site holds pages, not code. A link to a file that does not
  exist is left alone, so the strict build still fails on it.
"""
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ERROR_TABLE = "<!-- generated: error-table -->"
OPENAPI_REFERENCE = "<!-- generated: openapi-reference -->"
CODE_NAME = re.compile(r"\*\*([A-Z][A-Z0-9_]{2,})\*\*")
REPO_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:\.\./)+[^)#\s]+)(#[^)\s]*)?\)")
MERMAID_JS = ROOT / ".tools" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
MERMAID_URI = "assets/javascripts/mermaid.min.js"
SIGNING_HEADERS = {"X-Key-Id", "X-Timestamp", "X-Nonce", "X-Signature"}


def cell(text: Any) -> str:
    """One Markdown table cell: no line breaks, no bare pipes."""
    return " ".join(str(text).split()).replace("|", "\\|")


# -- the error table ----------------------------------------------------------------------------

def error_table() -> str:
    from chalicelib.errors import ErrorCode
    lines = ["| code | name | HTTP | message |", "| --- | --- | --- | --- |"]
    for code in ErrorCode:
        lines.append(f"| {code.number} | `{code.name}` | {code.http_status} | {cell(code.message)} |")
    return "\n".join(lines)


def check_code_names(markdown: str, page: str) -> None:
    from chalicelib.errors import ErrorCode
    known = {code.name for code in ErrorCode}
    unknown = sorted(set(CODE_NAME.findall(markdown)) - known)
    if unknown:
        raise PluginError(f"{page} explains error codes that chalicelib/errors.py does not have: "
                          f"{', '.join(unknown)}")


# -- the OpenAPI reference ----------------------------------------------------------------------

def schema_type(schema: Dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name.lower()})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(schema_type(part) for part in schema[key])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"array of {schema_type(schema.get('items', {}))}"
    if "enum" in schema:
        return f"{kind}: " + ", ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "pattern" in schema:
        return f"{kind} `{schema['pattern']}`"
    return kind


def schema_table(schema: Dict[str, Any]) -> List[str]:
    properties = schema.get("properties", {})
    if not properties:
        return [f"Type: {schema_type(schema)}.", ""]
    required = set(schema.get("required", []))
    lines = ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    for name, prop in properties.items():
        lines.append(f"| `{name}` | {cell(schema_type(prop))} | {'yes' if name in required else ''} "
                     f"| {cell(prop.get('description', prop.get('title', '')))} |")
    return lines + [""]


def first_example(media: Dict[str, Any]) -> Any:
    examples = media.get("examples") or {}
    for example in examples.values():
        if "value" in example:
            return example["value"]
    return media.get("example")


def render_operation(path: str, method: str, op: Dict[str, Any]) -> List[str]:
    lines = [f"### `{method.upper()} {path}` {{#{op['operationId'].lower()}}}", "",
             f"**{cell(op.get('summary', ''))}** (`{op['operationId']}`)", ""]
    if op.get("description"):
        lines += [op["description"], ""]
    if op.get("security"):
        lines += ["Signed: the four signing headers are required ([request signing](signing.md)).", ""]
    params = [p for p in op.get("parameters", []) if p["name"] not in SIGNING_HEADERS]
    if params:
        lines += ["| parameter | in | type | description |", "| --- | --- | --- | --- |"]
        lines += [f"| `{p['name']}` | {p['in']} | {cell(schema_type(p.get('schema', {})))} "
                  f"| {cell(p.get('description', ''))} |" for p in params]
        lines.append("")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        lines += [f"Body: {schema_type(body['schema'])}.", ""]
        example = first_example(body)
        if example is not None:
            lines += ["```json", json.dumps(example, ensure_ascii=False), "```", ""]
    lines += ["| status | answer |", "| --- | --- |"]
    for status, reply in op.get("responses", {}).items():
        lines.append(f"| {status} | {cell(reply.get('description', ''))} |")
    return lines + [""]


def operations_by_tag(document: Dict[str, Any]) -> Dict[str, List[tuple]]:
    grouped: Dict[str, List[tuple]] = {tag["name"]: [] for tag in document.get("tags", [])}
    for path, item in document["paths"].items():
        for method, op in item.items():
            grouped.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    return grouped


def openapi_reference(document: Dict[str, Any]) -> str:
    descriptions = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    lines: List[str] = [f"OpenAPI {document['openapi']}, *{document['info']['title']}* "
                        f"{document['info']['version']}: {len(document['paths'])} paths. "
                        "The document itself: [openapi.json](../openapi.json).", ""]
    for tag, ops in operations_by_tag(document).items():
        if not ops:
            continue
        lines += [f"## {tag}", ""]
        if descriptions.get(tag):
            lines += [descriptions[tag], ""]
        for path, method, op in ops:
            lines += render_operation(path, method, op)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += [f"### {name} {{#schema-{name.lower()}}}", ""]
        if schema.get("description"):
            lines += [cell(schema["description"]), ""]
        lines += schema_table(schema)
    return "\n".join(lines)


def openapi_document() -> Dict[str, Any]:
    from chalicelib import openapi
    return openapi.document()


# -- links to the repository's files ------------------------------------------------------------

def repository_links(markdown: str, page_file: Path) -> str:
    def replace(match: "re.Match[str]") -> str:
        target = (page_file.parent / match.group(2)).resolve()
        try:
            relative = target.relative_to(ROOT)
        except ValueError:
            return match.group(0)
        if relative.parts[0] == "docs" or not target.exists():
            return match.group(0)
        return f"{match.group(1)} (`{relative.as_posix()}`)"
    return REPO_LINK.sub(replace, markdown)


# -- MkDocs events ------------------------------------------------------------------------------

def on_page_markdown(markdown: str, page, config, files) -> str:
    source = Path(page.file.abs_src_path)
    markdown = repository_links(markdown, source)
    if ERROR_TABLE in markdown:
        check_code_names(markdown, page.file.src_uri)
        markdown = markdown.replace(ERROR_TABLE, error_table())
    if OPENAPI_REFERENCE in markdown:
        markdown = markdown.replace(OPENAPI_REFERENCE, openapi_reference(openapi_document()))
    return markdown


def on_config(config):
    if MERMAID_JS.exists():
        # Material loads mermaid from its CDN only while `mermaid` is undefined on the page.
        config.extra_javascript.append(MERMAID_URI)
    return config


def on_files(files, config):
    """The OpenAPI document, served beside the pages (and linkable from them) as openapi.json;
    mermaid's script beside Material's own when it is installed."""
    from mkdocs.structure.files import File
    content = json.dumps(openapi_document(), ensure_ascii=False, indent=2)
    files.append(File.generated(config, "openapi.json", content=content))
    if MERMAID_JS.exists():
        files.append(File.generated(config, MERMAID_URI, abs_src_path=str(MERMAID_JS)))
    return files


def generated_markers() -> Iterable[str]:
    return (ERROR_TABLE, OPENAPI_REFERENCE)
