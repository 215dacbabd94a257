"""The deployment kit (deploy/, .env.example): settings listed, nginx site valid, units,
compose file and Dockerfile carrying what docs/deployment.md promises."""

from __future__ import annotations

import ast
import configparser
import datetime as dt
import http.server
import importlib
import inspect
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import APIRouter
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "govloop"
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = ROOT / ".env.example"
SITE = DEPLOY / "nginx" / "govloop.conf"
UPSTREAM = DEPLOY / "nginx" / "upstream.conf"
UPSTREAM_COMPOSE = DEPLOY / "nginx" / "upstream-compose.conf"
UNITS = DEPLOY / "systemd"

# Read straight from os.environ by the code rather than through a settings class; found
# again below in the source, so this list cannot silently go stale.
DIRECT_ENV = {"GOVLOOP_AUDIT_KEY_DIR", "GOVLOOP_AUDIT_ANCHOR_DIR", "GOVLOOP_OPEN311_SCHEMA_DIR"}


# --- helpers --------------------------------------------------------------------------------


STREAM_MARKS = ("text/event-stream", "EventSourceResponse")


def settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class defined in src/govloop (found in the source, imported)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "BaseSettings" not in text:
            continue
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "BaseSettings")
                or (isinstance(b, ast.Attribute) and b.attr == "BaseSettings")
                for b in node.bases
            ):
                found.append(getattr(importlib.import_module(module), node.name))
    return found


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "")
    return {(field.alias or f"{prefix}{name}").upper() for name, field in cls.model_fields.items()}


def read_directly() -> set[str]:
    """GOVLOOP_* names the application reads with os.environ (benchmarks and the demo,
    which set or read variables of their own for their runs, left out)."""
    pattern = re.compile(
        r"""os\.environ(?:\.get)?\(\s*"(GOVLOOP_\w+)"|^\w+_ENV\s*=\s*"(GOVLOOP_\w+)\"""",
        re.M,
    )
    names = set()
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] in {"bench", "demo"}:
            continue
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def example_lines() -> dict[str, tuple[str, str]]:
    """NAME -> (value, the comment line right above it)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    out: dict[str, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            assert match.group(1) not in out, f"{match.group(1)} listed twice"
            out[match.group(1)] = (match.group(2), lines[i - 1] if i else "")
    return out


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.skip("the nginx binary is not installed (apt-get install nginx)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def enable_tls(site: str, cert_dir: Path) -> str:
    """What docs/deployment.md tells the operator to run, certificate paths moved."""
    lines = [line for line in site.splitlines() if "# plain HTTP only" not in line]
    text = "\n".join(re.sub(r"^(\s*)#tls ", r"\1", line) for line in lines)
    return text.replace("/etc/nginx/tls/", f"{cert_dir}/")


def self_signed(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "govloop.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "govloop.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def nginx_conf(tmp: Path, upstream: str, site: str, listen: int | None = None) -> Path:
    """A minimal nginx.conf in tmp including the site, as Debian's conf.d would."""
    (tmp / "logs").mkdir(exist_ok=True)
    (tmp / "upstream.conf").write_text(upstream)
    if listen is not None:
        site = re.sub(r"listen 80 default_server;", f"listen 127.0.0.1:{listen};", site)
        site = re.sub(r"\n\s*listen \[::\]:80 default_server;.*", "", site)
    (tmp / "site.conf").write_text(site)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"pid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    access_log off;\n"
        # compression on for everything, as an operator may set it in nginx.conf: the
        # event stream must still not wait for a full compressed block
        "    gzip on;\n"
        "    gzip_min_length 1;\n"
        "    gzip_types text/event-stream text/plain application/json;\n"
        f"    client_body_temp_path {tmp}/body;\n"
        f"    proxy_temp_path {tmp}/proxy;\n"
        f"    fastcgi_temp_path {tmp}/fastcgi;\n"
        f"    uwsgi_temp_path {tmp}/uwsgi;\n"
        f"    scgi_temp_path {tmp}/scgi;\n"
        f"    include {tmp}/upstream.conf;\n"
        f"    include {tmp}/site.conf;\n"
        "}\n"
    )
    return conf


def nginx_test(conf: Path) -> None:
    tmp = conf.parent
    result = subprocess.run(
        [nginx_binary(), "-t", "-q", "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "err")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def location_block(site: str, header: str) -> str:
    start = site.index(header)
    return site[start : site.index("}", start)]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text(encoding="utf-8"))
    return parser


def body_limits() -> dict[str, int]:
    from govloop.core.settings import Settings

    fields = Settings.model_fields
    return {
        name: int(fields[name].default)
        for name in ("max_request_bytes", "ingest_max_body_bytes", "ingest_max_upload_bytes")
    }


def nginx_size(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert match, value
    return (
        int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    )


# --- .env.example -----------------------------------------------------------------------------


def test_settings_classes_are_found() -> None:
    names = {cls.__name__ for cls in settings_classes()}
    assert {"Settings", "AnalyticsSettings"} <= names


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    expected = set().union(*(env_names(cls) for cls in settings_classes()))
    assert read_directly() == DIRECT_ENV, "a GOVLOOP_* variable read from os.environ changed"
    expected |= DIRECT_ENV
    listed = set(example_lines())
    assert not expected - listed, f"missing from .env.example: {sorted(expected - listed)}"
    assert not listed - expected, f"not a setting: {sorted(listed - expected)}"


def test_env_example_gives_each_setting_its_default_and_a_comment() -> None:
    for cls in settings_classes():
        # the example file as the only source beside the environment gives the defaults
        from_example = cls(_env_file=ENV_EXAMPLE).model_dump()
        defaults = cls(_env_file=None).model_dump()
        assert from_example == defaults, cls.__name__
    from govloop.audit import keys

    lines = example_lines()
    assert lines["GOVLOOP_AUDIT_KEY_DIR"][0] == str(keys.DEFAULT_KEY_DIR)
    assert lines["GOVLOOP_AUDIT_ANCHOR_DIR"][0] == ""
    assert lines["GOVLOOP_OPEN311_SCHEMA_DIR"][0] == ""
    for name, (_value, comment) in lines.items():
        assert comment.startswith("# ") and len(comment) > 10, f"{name} has no comment"
        assert comment.isascii(), f"{name}: comments are in English"


# --- nginx ----------------------------------------------------------------------------------


def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx_test(nginx_conf(tmp_path, UPSTREAM.read_text(), SITE.read_text()))


def test_nginx_site_with_tls_enabled_passes_nginx_t(tmp_path: Path) -> None:
    site = enable_tls(SITE.read_text(), tmp_path)
    assert "listen 443 ssl" in site and "return 301 https://" in site
    self_signed(tmp_path)
    nginx_test(nginx_conf(tmp_path, UPSTREAM.read_text(), site))


def test_nginx_compose_upstream_passes_nginx_t(tmp_path: Path) -> None:
    # the Compose service names resolve only inside Compose: point them at loopback
    upstream = re.sub(r"server web\d:8000", "server 127.0.0.1:8000", UPSTREAM_COMPOSE.read_text())
    assert upstream.count("127.0.0.1:8000") == 2
    nginx_test(nginx_conf(tmp_path, upstream, SITE.read_text()))


def sse_paths() -> list[str]:
    """Paths of the routes answering text/event-stream (sse-starlette's EventSourceResponse
    or a StreamingResponse of that type), parameters filled in."""
    paths = []
    for path in SRC.rglob("*.py"):
        if not any(mark in path.read_text(encoding="utf-8") for mark in STREAM_MARKS):
            continue
        module = importlib.import_module(
            ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        )
        for router in vars(module).values():
            if not isinstance(router, APIRouter):
                continue
            for route in router.routes:
                endpoint = getattr(route, "endpoint", None)
                source = inspect.getsource(endpoint) if endpoint is not None else ""
                if any(mark in source for mark in STREAM_MARKS):
                    paths.append(re.sub(r"\{[^}]+\}", "H01", route.path))  # type: ignore[attr-defined]
    return paths


def test_nginx_streams_server_sent_events_unbuffered() -> None:
    site = SITE.read_text()
    paths = sse_paths()
    assert "/api/v1/halls/H01/stream" in paths
    locations = re.findall(r"location ~ (\S+) \{", site)
    for path in paths:
        covering = [loc for loc in locations if re.match(loc, path)]
        assert covering, f"no nginx location for the event stream {path}"
        block = location_block(site, f"location ~ {covering[0]} {{")
        assert "proxy_buffering off;" in block
        assert re.search(r"proxy_read_timeout (\d+)h;", block)
    assert "proxy_http_version 1.1;" in site
    assert 'proxy_set_header Connection "";' in site


def test_nginx_body_size_is_the_upload_limit() -> None:
    limits = body_limits()
    sizes = re.findall(r"^\s*client_max_body_size (\S+);", SITE.read_text(), re.M)
    assert len(sizes) == 1
    assert nginx_size(sizes[0]) == limits["ingest_max_upload_bytes"] == max(limits.values())


def test_nginx_forwarded_headers_are_its_own() -> None:
    site = SITE.read_text()
    for header in (
        "X-Forwarded-For $proxy_add_x_forwarded_for",
        "X-Forwarded-Proto $scheme",
        "X-Forwarded-Host $host",
        'Forwarded ""',
    ):
        assert f"proxy_set_header {header};" in site
    # retries never repeat a form: no non_idempotent
    assert "proxy_next_upstream error timeout" in site
    assert not re.search(r"^\s*proxy_next_upstream [^;]*non_idempotent", site, re.M)


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A stand-in web process: an event stream that pauses between events, and an echo of
    the forwarded headers."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []  # noqa: RUF012

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers.items()))
        if self.path.endswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(2):
                data = f"event: update\ndata: {i}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(1.5)
            self.wfile.write(b"0\r\n\r\n")
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def running_nginx(tmp_path: Path) -> Iterator[int]:
    binary = nginx_binary()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"upstream govloop_web {{ server 127.0.0.1:{server.server_port}; keepalive 4; }}\n"
    port = free_port()
    conf = nginx_conf(tmp_path, upstream, SITE.read_text(), listen=port)
    command = [binary, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "err")]
    process = subprocess.Popen(
        [*command, "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
        server.server_close()


def test_nginx_passes_each_event_at_once_and_sets_forwarded_headers(running_nginx: int) -> None:
    import httpx

    _Upstream.seen.clear()
    base = f"http://127.0.0.1:{running_nginx}"
    with httpx.Client(timeout=10) as client:
        started = time.monotonic()
        with client.stream("GET", f"{base}/api/v1/halls/H01/stream") as response:
            assert response.status_code == 200
            first = next(response.iter_text())
            elapsed = time.monotonic() - started
        assert "data: 0" in first
        assert elapsed < 1.2, "the first event waited for the next one: nginx buffers"
        response = client.get(
            f"{base}/healthz",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 200
    headers = _Upstream.seen[-1]
    # the client's claim stays on the left, nginx's own peer is the right-most hop
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Real-IP"] == "127.0.0.1"


# --- systemd --------------------------------------------------------------------------------


def test_systemd_units_run_govloop_as_its_user() -> None:
    web = unit("govloop-web@.service")
    worker = unit("govloop-worker.service")
    devices = unit("govloop-devices.service")
    for parsed, command in (
        (web, "govloop serve --host 127.0.0.1 --port %i"),
        (worker, "govloop worker"),
        (devices, "govloop devices listen"),
    ):
        service = parsed["Service"]
        assert service["User"] == "govloop"
        assert service["ExecStart"].startswith("/opt/govloop/venv/bin/")
        assert command in service["ExecStart"]
        assert service["EnvironmentFile"] == "/etc/govloop/govloop.env"
        assert service["Restart"] == "on-failure"
        assert service["KillSignal"] == "SIGTERM"
        assert int(service["TimeoutStopSec"].rstrip("s")) > 0
        assert service["NoNewPrivileges"] == "true"
        assert service["ProtectSystem"] == "strict"
        assert service["PrivateTmp"] == "true"
        assert "/var/lib/govloop" in service["ReadWritePaths"]
        assert parsed["Unit"]["PartOf"] == "govloop.target"
        assert parsed["Install"]["WantedBy"] == "govloop.target"
    assert web["Service"]["Environment"] == "GOVLOOP_RUN_JOBS=false"
    target = unit("govloop.target")
    assert target["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_finds_nothing_but_the_missing_install(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for path in UNITS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    names = ["govloop-web@8001.service", "govloop-worker.service", "govloop-devices.service"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    output = (result.stdout + result.stderr).splitlines()
    if any("Failed to" in line and "govloop" not in line for line in output):
        pytest.skip(f"systemd-analyze cannot run here: {output}")
    # /opt/govloop/venv does not exist on a test machine; anything else is a unit's fault
    complaints = [line for line in output if "govloop" in line and "is not executable" not in line]
    assert not complaints


def test_admin_wrapper_is_valid_sh() -> None:
    wrapper = DEPLOY / "bin" / "govloop-admin"
    assert wrapper.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(wrapper)], check=True, timeout=10)


# --- Compose, Mosquitto, Dockerfile ----------------------------------------------------------


def test_compose_has_every_service() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "mosquitto", "migrate", "worker", "nginx"} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
    webs = [s for s in services.values() if s.get("command", [None])[0] == "serve"]
    assert len(webs) == 2
    for web in webs:
        assert web["environment"]["GOVLOOP_RUN_JOBS"] == "false"
        assert "redis://" in web["environment"]["GOVLOOP_RATE_LIMIT_STORAGE"]
        assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["worker"]["command"] == ["worker"]
    assert "healthcheck" in services["postgres"]
    nginx = services["nginx"]
    nginx_address = nginx["networks"]["backend"]["ipv4_address"]
    assert webs[0]["environment"]["GOVLOOP_TRUSTED_PROXIES"] == nginx_address
    for volume in nginx["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).is_file(), source
    assert (DEPLOY / "nginx" / "govloop.conf").is_file()
    build = services["migrate"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_mosquitto_config_names_files_that_ship() -> None:
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    for path in re.findall(r"^\s*(?:acl_file|password_file) /mosquitto/config/(\S+)", conf, re.M):
        assert (DEPLOY / "mosquitto" / path).is_file(), path
    assert "allow_anonymous false" in conf


def test_dockerfile_builds_wheels_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
    assert stages[0] == "build" and "runtime" in stages
    runtime = text[text.index("AS runtime") :]
    assert "pip wheel --wheel-dir /wheels ." in text
    assert re.search(r"pip install --no-index --find-links /wheels govloop", runtime)
    users = re.findall(r"^USER (\S+)", runtime, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime
    assert 'ENTRYPOINT ["govloop"]' in runtime
    assert re.search(r'CMD \["serve", "--host", "0.0.0.0"', runtime)
    for source in re.findall(r"^COPY (?!--)(\S+)", text, re.M):
        assert (ROOT / source).exists(), source
