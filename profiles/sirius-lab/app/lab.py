#!/usr/bin/env python3
"""The Sirius lab services: a stand-in for sirius-api, sirius-engine, sirius-ui and the
sirius-migrate one-shot, each as small as it can be while behaving like the real one where
Sirius Deck looks: ports, health endpoints that mean something, data in PostgreSQL, and the
build target each container was built from (/etc/sirius-lab/build-target).

    lab.py api | engine | ui [--dev] | migrate
"""

import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_FILE = "/etc/sirius-lab/build-target"


def build_target():
    try:
        with open(TARGET_FILE) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def log(role, msg):
    print(f"sirius-{role}: {msg}", flush=True)


def pg_connect():
    import psycopg2

    password = os.environ.get("POSTGRES_PASSWORD")
    pw_file = os.environ.get("POSTGRES_PASSWORD_FILE")
    if pw_file:
        with open(pw_file) as f:
            password = f.read().strip()
    return psycopg2.connect(
        host=os.environ.get("POSTGRES_HOST", "sirius-postgres"),
        port=int(os.environ.get("POSTGRES_PORT", "5432")),
        user=os.environ.get("POSTGRES_USER", "postgres"),
        password=password,
        dbname=os.environ.get("POSTGRES_DB", "sirius"),
        connect_timeout=3,
    )


def api_key_readable():
    path = os.environ.get("SIRIUS_API_KEY_FILE", "")
    return bool(path) and os.access(path, os.R_OK)


def serve(role, port, routes):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.reply(404, {"error": "not found"})
                return
            try:
                status, body = route()
            except Exception as e:  # a health endpoint reports, it does not crash
                status, body = 503, {"status": "error", "error": type(e).__name__}
            self.reply(status, body)

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            if os.environ.get("LOG_LEVEL", "info") == "debug":
                log(role, fmt % args)

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(role, f"listening on :{port}")
    return server


def api():
    def health():
        with pg_connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM findings")
            (count,) = cur.fetchone()
        return 200, {
            "status": "ok",
            "service": "sirius-api",
            "target": build_target(),
            "postgres": "reachable",
            "findings": count,
            "api_key": api_key_readable(),
        }

    def findings():
        with pg_connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id, host, title, severity FROM findings ORDER BY id")
            rows = [dict(zip(("id", "host", "title", "severity"), r)) for r in cur.fetchall()]
        return 200, {"findings": rows}

    serve("api", int(os.environ.get("API_PORT", "9001")), {"/health": health, "/api/v1/health": health, "/api/v1/findings": findings})


def engine():
    def health():
        return 200, {"status": "ok", "service": "sirius-engine", "target": build_target(), "api_key": api_key_readable()}

    serve("engine", int(os.environ.get("ENGINE_MAIN_PORT", "5174")), {"/health": health})
    grpc_port = int(os.environ.get("GRPC_AGENT_PORT", "50051"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", grpc_port))
    listener.listen(16)

    def accept():
        while True:
            conn, _ = listener.accept()
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    log("engine", f"agent listener on :{grpc_port}")


def ui(dev):
    mode = "next dev" if dev else "next start"

    def health():
        return 200, {"status": "ok", "service": "sirius-ui", "target": build_target(), "mode": mode}

    def index():
        return 200, {"app": "Sirius lab UI", "mode": mode}

    log("ui", f"running `{mode}`")
    serve("ui", 3000, {"/": index, "/api/health": health})
    if dev:
        serve("ui", 3001, {"/": index})


def migrate():
    with pg_connect() as conn, conn.cursor() as cur:
        cur.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations_core (version integer PRIMARY KEY, applied_at timestamptz DEFAULT now());
            CREATE TABLE IF NOT EXISTS findings (
                id serial PRIMARY KEY, host text NOT NULL, title text NOT NULL, severity text NOT NULL
            );
            """
        )
        cur.execute("INSERT INTO schema_migrations_core (version) VALUES (1) ON CONFLICT DO NOTHING")
        cur.execute("SELECT count(*) FROM findings")
        (count,) = cur.fetchone()
        if count == 0:
            cur.executemany(
                "INSERT INTO findings (host, title, severity) VALUES (%s, %s, %s)",
                [
                    ("10.0.0.5", "OpenSSH user enumeration", "medium"),
                    ("10.0.0.7", "TLS 1.0 enabled", "low"),
                    ("10.0.0.9", "Outdated nginx", "high"),
                ],
            )
            log("migrate", "seeded 3 findings")
    log("migrate", "schema is at version 1")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    role = sys.argv[1]
    # As PID 1 a process ignores SIGTERM unless it handles it: stop promptly on `docker stop`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(role, f"starting (build target: {build_target()})")
    if role == "migrate":
        migrate()
        return 0
    if role == "api":
        api()
    elif role == "engine":
        engine()
    elif role == "ui":
        ui("--dev" in sys.argv)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
