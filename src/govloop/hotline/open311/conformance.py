"""Conformance of the Open311 server: every endpoint, in JSON and in XML, validated with
``jsonschema`` against GeoReport v2 schemas.

Two sets of schemas:

- govloop's own (``hotline/open311/schema/*.json``, shipped in the package and always used), written
  from the GeoReport v2 specification text (and Service Discovery for ``discovery``): one
  schema per kind of response, strict where the text is (required fields, the ``status``,
  ``type`` and ``datatype`` values, w3 date-times with a timezone, exactly one item where
  one is due, ``updated_datetime`` on closed requests, list attributes with values).
- the official schemas of the open311 project (not shipped), an optional cross-check: from
  an explicit folder or ``GOVLOOP_OPEN311_SCHEMA_DIR``. There, each response is checked
  against the standalone files (``services.json``, ``service-definition.json``,
  ``requests.json``) and the ``200`` schema of its path in ``swagger.json`` (POST requests
  and tokens have only the latter). Where the swagger file describes one object but the spec
  text and its examples return a list of one (``requests/{id}``, ``tokens/{token}``), each
  item of the list is checked against it. The official schemas never say ``"type":
  "object"`` and their ``minItems`` sits where it has no effect, so a string or an empty
  list would pass them vacuously; each response is therefore also checked for its shape.
  Errors and the discovery document have no official schema.

``format`` is checked: ``date-time`` as RFC 3339 with a timezone, ``uri`` as absolute.
(jsonschema skips both unless optional packages are installed.)

XML is converted to the JSON shape the schemas describe (the Spark convention: list
elements become arrays, ``true``/``false`` booleans, ``lat``/``long`` numbers, ``order``
and error codes integers, empty elements null) and must start with an XML declaration
naming UTF-8.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree.ElementTree import Element

import httpx
from defusedxml.ElementTree import fromstring
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR_ENV = "GOVLOOP_OPEN311_SCHEMA_DIR"
ENDPOINT = "/open311/v2"
# govloop's schemas: package data, resolved under a base URI that is never fetched
OWN_SCHEMA_PACKAGE = "govloop.hotline.open311"
OWN_SCHEMA_FOLDER = "schema"
OWN_SCHEMA_BASE = "https://govloop.invalid/open311/schema/"
# kind of response → its schema in ``schema/``
OWN_SCHEMAS = {
    "discovery": "discovery.json",
    "services": "services.json",
    "service_definition": "service-definition.json",
    "post": "post-response.json",
    "requests": "requests.json",
    "request": "service-request.json",
    "token": "token-response.json",
    "errors": "errors.json",
}

LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
BOOLEAN_FIELDS = {"metadata", "variable", "required"}
NUMBER_FIELDS = {"lat", "long"}
INTEGER_FIELDS = {"order"}

_LIST_OF_OBJECTS = {"type": "array", "items": {"type": "object"}}
_ONE_OBJECT = {**_LIST_OF_OBJECTS, "minItems": 1, "maxItems": 1}
_SWAGGER_200 = {
    "services": ("/services.{response_format}", "get"),
    "service_definition": ("/services/{service_code}.{response_format}", "get"),
    "requests": ("/requests.{response_format}", "get"),
    "post": ("/requests.{response_format}", "post"),
    "request": ("/request/{service_request_id}.{response_format}", "get"),
    "token": ("/tokens/{token_id}.{response_format}", "get"),
}
# kind → (official standalone file or None, swagger schema applies to each item?, shape)
_OFFICIAL_KINDS: dict[str, tuple[str | None, bool, dict[str, Any]]] = {
    "services": ("services.json", False, _LIST_OF_OBJECTS),
    "service_definition": ("service-definition.json", False, {"type": "object"}),
    "requests": ("requests.json", False, _LIST_OF_OBJECTS),
    "post": (None, False, _ONE_OBJECT),
    "request": ("requests.json", True, _ONE_OBJECT),
    "token": (None, True, _ONE_OBJECT),
}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # real calendar values
    return True


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(urlsplit(value).scheme) and not any(c.isspace() for c in value)


def schema_dir(path: str | Path | None = None) -> Path:
    """The folder of the official Open311 JSON schemas (from the open311 project; not shipped
    with govloop): ``path``, else ``GOVLOOP_OPEN311_SCHEMA_DIR``."""
    found = path or os.environ.get(SCHEMA_DIR_ENV)
    folder = Path(found) if found else None
    if folder is None or not (folder / "swagger.json").is_file():
        raise FileNotFoundError(
            f"Open311 schemas not found in {folder} (set {SCHEMA_DIR_ENV} or pass the folder)"
        )
    return folder


def _resource(text: str) -> Resource[Any]:
    return Resource.from_contents(json.loads(text), default_specification=DRAFT4)


def _problems(registry: Registry[Any], checks: list[tuple[str, dict[str, Any], Any]]) -> list[str]:
    problems = []
    for name, schema, instance in checks:
        validator = Draft4Validator(schema, registry=registry, format_checker=FORMATS)
        for error in list(validator.iter_errors(instance))[:3]:
            message = error.message
            if error.validator in ("anyOf", "oneOf") and error.context:
                alternatives = " | ".join(sorted({e.message for e in error.context}))
                message = f"none of the alternatives holds: {alternatives}"
            problems.append(f"{name}: {message} at {error.json_path}")
    return problems


class OwnSchemas:
    """govloop's schemas (``schema/``, package data), one per kind of response."""

    def __init__(self) -> None:
        folder = files(OWN_SCHEMA_PACKAGE).joinpath(OWN_SCHEMA_FOLDER)
        registry: Registry[Any] = Registry()
        for name in sorted({*OWN_SCHEMAS.values(), "service.json", "request.json"}):
            text = folder.joinpath(name).read_text(encoding="utf-8")
            registry = registry.with_resource(OWN_SCHEMA_BASE + name, _resource(text))
        self.registry = registry

    def check(self, kind: str, payload: Any) -> list[str]:
        name = OWN_SCHEMAS[kind]
        ref = {"$ref": OWN_SCHEMA_BASE + name}
        return _problems(self.registry, [(f"{OWN_SCHEMA_FOLDER}/{name}", ref, payload)])


class OfficialSchemas:
    """The official schemas of the open311 project, from ``folder``."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = schema_dir(folder)
        registry: Registry[Any] = Registry()
        self.uris: dict[str, str] = {}
        for path in sorted(self.folder.glob("*.json")):
            uri = path.resolve().as_uri()
            registry = registry.with_resource(uri, _resource(path.read_text(encoding="utf-8")))
            self.uris[path.name] = uri
        self.registry = registry

    def _swagger(self, kind: str) -> dict[str, Any]:
        path, method = _SWAGGER_200[kind]
        pointer = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"
        return {"$ref": f"{self.uris['swagger.json']}#{quote(pointer)}/responses/200/schema"}

    def check(self, kind: str, payload: Any) -> list[str]:
        """Problems by the official schemas; none for errors and discovery (no schema)."""
        if kind not in _OFFICIAL_KINDS:
            return []
        standalone, per_item, shape = _OFFICIAL_KINDS[kind]
        checks: list[tuple[str, dict[str, Any], Any]] = [("shape", shape, payload)]
        if standalone:
            checks.append((standalone, {"$ref": self.uris[standalone]}, payload))
        swagger = self._swagger(kind)
        if per_item and isinstance(payload, list):
            checks += [(f"swagger.json {kind}[{i}]", swagger, p) for i, p in enumerate(payload)]
        else:
            checks.append((f"swagger.json {kind}", swagger, payload))
        return [f"official {p}" for p in _problems(self.registry, checks)]


class Schemas:
    """govloop's schemas, and the official ones as a cross-check when they are available.

    ``official``: ``None`` uses them when ``folder`` is given or ``GOVLOOP_OPEN311_SCHEMA_DIR``
    is set; ``True`` requires them (``FileNotFoundError`` without); ``False`` leaves them out.
    """

    def __init__(self, folder: str | Path | None = None, *, official: bool | None = None) -> None:
        if folder and official is False:
            raise ValueError("a folder of official schemas was given with official=False")
        self.own = OwnSchemas()
        wanted = official or (official is None and bool(folder or os.environ.get(SCHEMA_DIR_ENV)))
        self.official = OfficialSchemas(folder) if wanted else None
        self.folder = self.official.folder if self.official else None

    @property
    def sources(self) -> list[str]:
        """What ``check`` validates against, for reports."""
        own = "govloop Open311 schemas (from the GeoReport v2 text)"
        return [own] + ([f"official ({self.folder})"] if self.official else [])

    def check(self, kind: str, payload: Any) -> list[str]:
        """Problems with ``payload`` as a response of ``kind``; empty when it conforms."""
        problems = self.own.check(kind, payload)
        if self.official is not None:
            problems += self.official.check(kind, payload)
        return problems


# --- XML --------------------------------------------------------------------------------


def _leaf(name: str, parent: str | None, text: str) -> Any:
    if text == "":
        return None
    if name in BOOLEAN_FIELDS and text in ("true", "false"):
        return text == "true"
    try:
        if name in NUMBER_FIELDS:
            return float(text)
        if name in INTEGER_FIELDS or (parent == "error" and name == "code"):
            return int(text)
    except ValueError:
        return text  # left as text, the schema reports it
    return text


def _convert(element: Element, parent: str | None) -> Any:
    name = element.tag
    children = list(element)
    if name in LIST_ITEMS:
        return [_convert(child, name) for child in children]
    if children:
        return {child.tag: _convert(child, name) for child in children}
    return _leaf(name, parent, element.text or "")


def xml_to_json(content: bytes) -> Any:
    """An Open311 XML response in the JSON shape of the schemas."""
    return _convert(fromstring(content), None)


# --- exercising a server ----------------------------------------------------------------


@contextmanager
def _http(target: str | httpx.Client) -> Iterator[httpx.Client]:
    if isinstance(target, httpx.Client):
        yield target
        return
    root = target.rstrip("/")
    root = root.removesuffix(ENDPOINT)
    with httpx.Client(base_url=root, timeout=30) as client:
        yield client


class _Run:
    def __init__(self, http: httpx.Client, schemas: Schemas) -> None:
        self.http = http
        self.schemas = schemas
        self.checked = 0
        self.failures: list[dict[str, Any]] = []
        self.failed: set[str] = set()

    def call(
        self,
        method: str,
        path: str,
        kind: str,
        expect: int = 200,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> Any:
        """Request ``path``, check status, content type and schema; the parsed payload."""
        label = f"{method} {path}" + (f"?{httpx.QueryParams(params)}" if params else "")
        response = self.http.request(method, path, params=params, data=data)
        self.checked += 1
        fmt = path.rsplit(".", 1)[-1]
        problems = []
        if response.status_code != expect:
            problems.append(f"HTTP {response.status_code}, expected {expect}")
        media = "text/xml" if fmt == "xml" else "application/json"
        content_type = response.headers.get("content-type", "").lower()
        if not content_type.startswith(media) or "charset=utf-8" not in content_type:
            problems.append(f"content-type {content_type!r}, expected {media}; charset=utf-8")
        payload = None
        try:
            if fmt == "xml":
                head = response.content.lstrip()[:60].lower()
                if not head.startswith(b"<?xml") or b'encoding="utf-8"' not in head:
                    problems.append('XML does not start with <?xml … encoding="UTF-8"?>')
                payload = xml_to_json(response.content)
            else:
                payload = response.json()
        except Exception as exc:  # any parse failure is a conformance failure
            problems.append(f"unparseable {fmt}: {exc}")
        else:
            problems += self.schemas.check(kind, payload)
        for problem in problems:
            self.failures.append({"request": label, "kind": kind, "problem": problem})
        if problems:
            self.failed.add(label)
        return payload


def _sample_form(service_code: str, definition: dict[str, Any] | None) -> dict[str, str]:
    form = {
        "service_code": service_code,
        "lat": "26.0745",
        "long": "119.2965",
        "address_string": "鼓楼区 东街口（Open311 一致性检查）",
        "description": "Open311 一致性检查提交的测试请求，请忽略",
    }
    samples = {"number": "1", "datetime": "2026-01-05T09:00:00+08:00"}
    for attribute in (definition or {}).get("attributes") or []:
        if not attribute.get("required") or not attribute.get("variable", True):
            continue
        values = attribute.get("values") or []
        value = values[0]["key"] if values else samples.get(attribute["datatype"], "检查")
        form[f"attribute[{attribute['code']}]"] = value
    return form


def check_conformance(
    target: str | httpx.Client,
    *,
    api_key: str | None = None,
    schema_folder: str | Path | None = None,
    schemas: Schemas | None = None,
) -> dict[str, Any]:
    """Exercise every endpoint in JSON and XML and validate each response.

    ``target`` is the server's root URL or an ``httpx.Client`` (a FastAPI ``TestClient``
    too) whose base URL is the root. With ``api_key`` one request per format is POSTed (it
    becomes a real work order) and its token resolved; without, POST and tokens are
    checked only for their 403 and 404 answers. ``schemas`` defaults to ``Schemas(schema_folder)``:
    govloop's, plus the official ones when given or found through ``GOVLOOP_OPEN311_SCHEMA_DIR``.
    """
    if schemas is None:
        schemas = Schemas(schema_folder)
    skipped: list[str] = []
    with _http(target) as http:
        run = _Run(http, schemas)
        for fmt in ("json", "xml"):
            run.call("GET", f"{ENDPOINT}/discovery.{fmt}", "discovery")
            services = run.call("GET", f"{ENDPOINT}/services.{fmt}", "services") or []
            definitions = {}
            for service in services if isinstance(services, list) else []:
                code = str(service.get("service_code", ""))
                path = f"{ENDPOINT}/services/{quote(code, safe='')}.{fmt}"
                definitions[code] = run.call("GET", path, "service_definition")
            created = None
            if api_key and definitions:
                code = next(iter(definitions))
                form = {"api_key": api_key, **_sample_form(code, definitions[code])}
                posted = run.call("POST", f"{ENDPOINT}/requests.{fmt}", "post", data=form)
                created = posted[0] if isinstance(posted, list) and posted else None
            elif not api_key:
                skipped.append(f"POST requests.{fmt} and tokens/{{token}}.{fmt}: no api_key")
            listed = run.call("GET", f"{ENDPOINT}/requests.{fmt}", "requests") or []
            request_id = (created or {}).get("service_request_id") or next(
                (r.get("service_request_id") for r in listed if isinstance(r, dict)), None
            )
            if request_id:
                path = f"{ENDPOINT}/requests/{quote(str(request_id), safe='')}.{fmt}"
                run.call("GET", path, "request")
            else:
                skipped.append(f"GET requests/{{id}}.{fmt}: no request to read")
            if created and created.get("token"):
                token = quote(str(created["token"]), safe="")
                run.call("GET", f"{ENDPOINT}/tokens/{token}.{fmt}", "token")
            # errors, in the spec's format
            unknown = "conformance-unknown"
            run.call("GET", f"{ENDPOINT}/services/{unknown}.{fmt}", "errors", 404)
            run.call("GET", f"{ENDPOINT}/requests/{unknown}.{fmt}", "errors", 404)
            run.call("GET", f"{ENDPOINT}/tokens/{unknown}.{fmt}", "errors", 404)
            bad_date = {"start_date": "not-a-date"}
            run.call("GET", f"{ENDPOINT}/requests.{fmt}", "errors", 400, params=bad_date)
            bad_key = {"api_key": "conformance-invalid-key", "service_code": unknown}
            run.call("POST", f"{ENDPOINT}/requests.{fmt}", "errors", 403, data=bad_key)
    return {
        "responses_checked": run.checked,
        "open311_schema_failures": len(run.failed),
        "schemas": schemas.sources,
        "failures": run.failures,
        "skipped": skipped,
    }
