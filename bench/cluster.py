"""Several app servers on one machine: PostgreSQL, Redis, gunicorn instances, HAProxy.

    .venv/bin/python bench/cluster.py            # start it, print the addresses, Ctrl-C stops it
    .venv/bin/python bench/cluster.py --bench    # load test through HAProxy, 1, 2, 3 instances
    .venv/bin/python bench/cluster.py --rolling  # rolling restart, then kill -9, under load

Everything listens on 127.0.0.1 and is started from Debian's packages
(``postgresql``, ``redis-server``, ``haproxy``; installed with apt-get when
missing and run as root): a PostgreSQL server initialised in a temporary
folder, a Redis server without persistence, ``--instances`` gunicorn servers
of ``app:create_app()`` (each its own port and process group, the same
SECRET_KEY, ``CRM_PROXY_HOPS=1``, the sign-in counter in Redis) and HAProxy
in front, checking ``GET /health`` on each. The schema is migrated once
(``db upgrade``, ``crm init``) before the instances start.

Everything started is stopped again: on leaving the ``with`` block, at exit,
on SIGINT and SIGTERM (each process group is signalled, then killed when it
does not stop in time). tests/cluster/ uses this module; docs/deploy.md
describes the topology and the figures.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import csv
import glob
import http.client
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "Cluster-Passw0rd!"
BACKEND = "app"


@dataclass(frozen=True)
class Ports:
    postgres: int = 56432
    redis: int = 56379
    haproxy: int = 58000
    apps: tuple[int, ...] = (58001, 58002, 58003)


@dataclass
class Instance:
    number: int  # 1-based, as in HAProxy's server names app1, app2, ...
    port: int
    database_url: str
    process: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"{BACKEND}{self.number}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def ensure_packages(log=print) -> None:
    """Install what is missing from Debian's packages (root only)."""
    missing = []
    if _postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if shutil.which("haproxy") is None:
        missing.append("haproxy")
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"missing Debian packages (run as root or install): {' '.join(missing)}")
    log(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


HAPROXY_CONFIG = """\
global
    maxconn 2000
    stats socket {socket} mode 600 level admin
    hard-stop-after 30s
    log stdout format raw local0

defaults
    mode http
    # Only what went wrong is logged (haproxy.log in the cluster's folder).
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 60s
    timeout server 130s
    timeout queue 60s
    timeout http-request 10s
    # A request that could not reach a server, or got no answer at all (the
    # server died with it), is tried again on another server.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    # The client's address for the app (CRM_PROXY_HOPS=1), appended to what it sent.
    option forwardfor

frontend crm
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
    # A GET that got no answer is sent again elsewhere; a form POST is not (it may
    # have been saved): only a POST that never reached a server is tried again.
    http-request disable-l7-retry if !METH_GET
    option httpchk GET /health
    http-check expect status 200
    # maxconn: one request per gunicorn worker, the rest wait in HAProxy's queue
    # (where a drained or dead server's share is given to another one).
    # Which instance answered (the cluster tests check where requests went).
    http-response set-header X-Crm-Server %s
    # A check waits behind the requests a busy worker has: give it time to answer
    # (an instance refusing connections or answering 503 is still out within ~2 s).
    timeout check 10s
    # A refused or reset connection marks the server down at once, without waiting for checks.
    default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2 maxconn {maxconn}
    default-server observe layer4 error-limit 1 on-error mark-down
{servers}
"""


@dataclass
class Cluster:
    """The cluster's processes, their settings and the operations the tests and bench need."""

    instances: int = 3
    workers: int = 2
    ports: Ports = field(default_factory=Ports)
    extra_env: dict = field(default_factory=dict)
    log: object = print

    def __post_init__(self):
        if not 1 <= self.instances <= len(self.ports.apps):
            raise ValueError(f"1 to {len(self.ports.apps)} instances")
        self.dir = Path(tempfile.mkdtemp(prefix="crm-cluster-"))
        self.dir.chmod(0o755)  # the postgres user enters it
        self.secret_key = secrets.token_hex(32)
        self.database_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.ports.postgres}/crm"
        self.redis_url = f"redis://127.0.0.1:{self.ports.redis}/0"
        self.url = f"http://127.0.0.1:{self.ports.haproxy}"
        self.nodes = [
            Instance(number, port, self.database_url)
            for number, port in enumerate(self.ports.apps[: self.instances], start=1)
        ]
        self._processes: dict[str, subprocess.Popen] = {}
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._saved_handlers: dict[int, object] = {}

    # ------------------------------------------------------------ life cycle

    def __enter__(self) -> Cluster:
        atexit.register(self.stop)
        self._install_signal_handlers()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, _frame):
            self.stop()
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved_handlers[signum] = signal.signal(signum, handler)

    def start(self) -> None:
        started = time.monotonic()
        ensure_packages(self.log)
        self._start_postgres()
        self._start_redis()
        self.migrate()
        for node in self.nodes:
            self.start_instance(node)
        for node in self.nodes:
            self.wait_healthy(node)
        self._start_haproxy()
        for node in self.nodes:
            self.wait_for_state(node, "UP")
        self.log(
            f"cluster up in {time.monotonic() - started:.0f} s: HAProxy {self.url}, "
            + ", ".join(f"{node.name} {node.url}" for node in self.nodes)
            + f", PostgreSQL {self.ports.postgres}, Redis {self.ports.redis}; files in {self.dir}"
        )

    def stop(self) -> None:
        """Stop everything started, newest first; safe to call twice and from a signal."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        for name in reversed(list(self._processes)):
            # PostgreSQL: SIGINT is its "fast" shutdown (SIGTERM waits for clients).
            self._end(name, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        for signum, previous in self._saved_handlers.items():
            if threading.current_thread() is threading.main_thread():
                signal.signal(signum, previous)
        self._saved_handlers.clear()
        atexit.unregister(self.stop)
        if not os.environ.get("CRM_CLUSTER_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ processes

    def _spawn(self, name: str, command: list[str], env=None, as_postgres=False):
        if self._stopped:  # an interrupt seen by stop(): start nothing more
            raise RuntimeError(f"cluster stopped; {name} not started")
        log_file = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        extra = {}
        if as_postgres and os.geteuid() == 0:
            extra = {"user": "postgres", "group": "postgres", "extra_groups": []}
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env if env is not None else os.environ.copy(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, signalled as one
            **extra,
        )
        log_file.close()
        self._processes[name] = process
        return process

    def _end(self, name: str, signum=signal.SIGTERM, timeout: float = 40) -> None:
        process = self._processes.pop(name, None)
        if process is None:
            return
        try:
            os.killpg(process.pid, signum)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.log(f"{name} did not stop in {timeout:.0f} s: killed")
        # Whatever is left of the group (a worker that outlived its master) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def _wait(self, what: str, ready, seconds: float = 120, process=None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stopped:
                raise RuntimeError(f"cluster stopped while waiting for {what}")
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what} exited ({process.returncode}); see {self.dir}")
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready after {seconds:.0f} s; see {self.dir}")

    # ------------------------------------------------------------ PostgreSQL and Redis

    def _start_postgres(self) -> None:
        pg_bin = _postgres_bin()
        data = self.dir / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        initdb = self._spawn(
            "initdb",
            [str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            + ["-E", "UTF8", "--locale=C.UTF-8"],
            as_postgres=True,
        )
        if initdb.wait(timeout=120) != 0:
            raise RuntimeError(f"initdb failed; see {self.dir}/initdb.log")
        self._processes.pop("initdb")
        # A scratch server: fsync off (nothing here outlives the run).
        postgres = self._spawn(
            "postgres",
            [str(pg_bin / "postgres"), "-D", str(data), "-h", "127.0.0.1"]
            + ["-p", str(self.ports.postgres), "-k", str(data)]
            + ["-c", "fsync=off", "-c", "max_connections=200"],
            as_postgres=True,
        )
        import psycopg

        dsn = f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/postgres"

        def accepting():
            try:
                with psycopg.connect(dsn, connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                return False

        self._wait("PostgreSQL", accepting, process=postgres)
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("CREATE DATABASE crm")

    def _start_redis(self) -> None:
        redis = self._spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.ports.redis)]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.dir)],
        )

        def pong():
            with socket.create_connection(("127.0.0.1", self.ports.redis), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")

        self._wait("Redis", pong, process=redis)

    # ------------------------------------------------------------ the app

    def app_env(self, database_url: str | None = None) -> dict:
        """The environment every instance and command of the cluster runs with."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MAIL_", "PYTEST_", "CRM_"))
        }
        env.update(
            DATABASE_URL=database_url or self.database_url,
            SECRET_KEY=self.secret_key,
            CRM_PROXY_HOPS="1",
            RATELIMIT_STORAGE_URI=self.redis_url,
            CRM_INSTANCE_DIR=str(self.dir / "instance"),
            CRM_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def flask(self, *args: str, env: dict | None = None, check=True, timeout=300):
        """``flask --app run.py ARGS`` with the cluster's settings; the finished process."""
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "run.py", *args],
            cwd=ROOT,
            env=env or self.app_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def migrate(self) -> None:
        """Once for the whole cluster, before any instance starts."""
        (self.dir / "instance").mkdir(exist_ok=True)
        self.flask("db", "upgrade")
        self.flask("crm", "init")

    def start_instance(self, node: Instance, database_url: str | None = None) -> None:
        if database_url:
            node.database_url = database_url
        node.process = self._spawn(
            node.name,
            [str(BIN / "gunicorn"), "--workers", str(self.workers)]
            + ["--bind", f"127.0.0.1:{node.port}", "--timeout", "120"]
            + ["--graceful-timeout", "30", "--log-level", "warning", "app:create_app()"],
            env=self.app_env(node.database_url),
        )

    def health(self, node: Instance) -> int:
        """The status ``/health`` answers on this instance (0: no answer)."""
        try:
            with urllib.request.urlopen(f"{node.url}/health", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def wait_healthy(self, node: Instance, status: int = 200, seconds: float = 180) -> None:
        self._wait(f"{node.name} /health {status}", lambda: self.health(node) == status, seconds)

    def stop_instance(self, node: Instance, kill: bool = False) -> None:
        """Gracefully (gunicorn finishes the requests it has), or ``kill -9`` the group."""
        self._end(node.name, signal.SIGKILL if kill else signal.SIGTERM)
        node.process = None

    # ------------------------------------------------------------ HAProxy

    def _start_haproxy(self) -> None:
        servers = "\n".join(
            f"    server {node.name} 127.0.0.1:{node.port} check" for node in self.nodes
        )
        config = self.dir / "haproxy.cfg"
        config.write_text(
            HAPROXY_CONFIG.format(
                socket=self.dir / "haproxy.sock",
                port=self.ports.haproxy,
                backend=BACKEND,
                maxconn=self.workers,
                servers=servers,
            )
        )
        # Its port is in Linux's ephemeral range: a client socket may hold it for a moment.
        for attempt in range(5):
            haproxy = self._spawn("haproxy", ["haproxy", "-db", "-f", str(config)])
            try:
                self._wait("HAProxy", lambda: (self.dir / "haproxy.sock").exists(), process=haproxy)
                return
            except RuntimeError:
                self._end("haproxy")
                if attempt == 4:
                    raise
                time.sleep(2)

    def runtime(self, command: str) -> str:
        """One command on HAProxy's runtime API (the admin socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.dir / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict]:
        """HAProxy's view of each instance: status (UP, DOWN, MAINT...), scur, qcur..."""
        text = self.runtime("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_for_state(self, node: Instance, status: str, seconds: float = 60) -> None:
        self._wait(
            f"{node.name} {status} in HAProxy",
            lambda: self.servers()[node.name]["status"].startswith(status),
            seconds,
        )

    def drain(self, node: Instance, seconds: float = 60) -> None:
        """No new request for this instance; return when the ones it has are answered."""
        self.runtime(f"disable server {BACKEND}/{node.name}")

        def idle():
            row = self.servers()[node.name]
            return row["status"].startswith("MAINT") and row["scur"] == "0" and row["qcur"] == "0"

        self._wait(f"{node.name} drained", idle, seconds)

    def enable(self, node: Instance, status: str = "UP") -> None:
        self.runtime(f"enable server {BACKEND}/{node.name}")
        self.wait_for_state(node, status)

    def restart_instance(self, node: Instance, database_url: str | None = None) -> float:
        """Drain, stop gracefully, start, wait healthy, put back; the seconds it took."""
        started = time.monotonic()
        self.drain(node)
        self.stop_instance(node)
        self.start_instance(node, database_url)
        self.wait_healthy(node)
        self.enable(node)
        return time.monotonic() - started

    def rolling_restart(self) -> list[float]:
        return [self.restart_instance(node) for node in self.nodes]


# ---------------------------------------------------------------- a bounded load


class Load:
    """``users`` signed-in clients on keep-alive connections to HAProxy, each
    sending its next request when the previous one is answered, until ``stop()``
    or ``max_requests``. A failure is anything but 200 (0: no answer at all);
    nothing is retried here, so every failure HAProxy lets through is counted.
    """

    PATHS = ("/customers/list/", "/feedback/list/", "/reporters/list/", "/products/list/")

    def __init__(self, cluster: Cluster, users: int = 6, max_requests: int = 100_000):
        self.cluster = cluster
        self.cookies = [sign_in(cluster.url, "admin", ADMIN_PASSWORD) for _ in range(users)]
        self.max_requests = max_requests
        self.results: list[tuple[float, int, str]] = []  # (time, status, server)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._browse, args=(n,), daemon=True) for n in range(users)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=150)

    def _browse(self, number: int) -> None:
        host, port = "127.0.0.1", self.cluster.ports.haproxy
        connection = None
        sent = 0
        while not self._stopping.is_set():
            with self._lock:
                if len(self.results) >= self.max_requests:
                    return
            path = self.PATHS[(number + sent) % len(self.PATHS)]
            sent += 1
            status, server = 0, ""
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(host, port, timeout=120)
                connection.request("GET", path, headers={"Cookie": self.cookies[number]})
                response = connection.getresponse()
                response.read()
                status, server = response.status, response.getheader("X-Crm-Server", "")
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
            with self._lock:
                self.results.append((time.monotonic(), status, server))

    def failures(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for at, status, _server in self.results if at >= since and status != 200)

    def statuses(self, since: float = 0.0) -> dict[int, int]:
        """How many answers of each status (0: none) since ``since``."""
        with self._lock:
            found: dict[int, int] = {}
            for at, status, _server in self.results:
                if at >= since:
                    found[status] = found.get(status, 0) + 1
            return found

    def count(self, since: float = 0.0, server: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for at, _status, name in self.results
                if at >= since and (server is None or name == server)
            )


def sign_in(base: str, username: str, password: str, source: str | None = None) -> str:
    """Sign in through ``base``; the session's Cookie header value."""
    host, port = base.removeprefix("http://").split(":")
    source_address = (source, 0) if source else None
    connection = http.client.HTTPConnection(
        host, int(port), timeout=60, source_address=source_address
    )
    try:
        connection.request("GET", "/login/")
        response = connection.getresponse()
        page = response.read().decode()
        cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token}
        )
        connection.request(
            "POST",
            "/login/",
            body=body,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie", cookie).split(";", 1)[0]
        if response.status != 302 or "/login" in response.getheader("Location", ""):
            raise RuntimeError(f"{username} could not sign in")
        return cookie
    finally:
        connection.close()


# ---------------------------------------------------------------- commands


def rolling(cluster: Cluster, users: int) -> None:
    """Rolling restart under load (0 failures expected), then kill -9 one instance."""
    with Load(cluster, users=users) as load:
        time.sleep(3)
        began = time.monotonic()
        durations = cluster.rolling_restart()
        time.sleep(2)
        served = load.count(began)
        failed = load.failures(began)
        print(
            f"rolling restart of {len(durations)} instances "
            f"({', '.join(f'{s:.0f} s' for s in durations)}): "
            f"{served} requests during it, {failed} failed"
        )
        victim = cluster.nodes[-1]
        killed_at = time.monotonic()
        cluster.stop_instance(victim, kill=True)
        cluster.wait_for_state(victim, "DOWN")
        time.sleep(3)
        print(
            f"kill -9 {victim.name} with {users} users: {load.failures(killed_at)} failed of "
            f"{load.count(killed_at)} requests after the kill; "
            f"{load.count(killed_at + 1, victim.name)} sent to it from 1 s after"
        )
    cluster.start_instance(victim)
    cluster.wait_healthy(victim)
    cluster.wait_for_state(victim, "UP")


def bench(cluster: Cluster, args) -> None:
    """The load test of bench/load_test.py through HAProxy with 1, 2, then 3 instances."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.update({"CRM_INSTANCE_DIR": str(cluster.dir / "instance")})
    import common
    import load_test

    url = cluster.database_url
    print(f"demo data: {args.customers} customers, {args.feedback} feedback rows …")
    started = time.monotonic()
    cluster.flask(
        "crm",
        "demo",
        "--customers",
        str(args.customers),
        "--feedback",
        str(args.feedback),
        "--seed",
        "1",
        timeout=1800,
    )
    print(f"  {time.monotonic() - started:.0f} s")
    load_test.ensure_users(url, args.users)
    ids = load_test.sample_ids(url)
    client = "wrk" if shutil.which("wrk") else "python"
    rows = []
    for active in range(1, len(cluster.nodes) + 1):
        for node in cluster.nodes:
            state = cluster.servers()[node.name]["status"]
            if node.number <= active and state.startswith("MAINT"):
                cluster.enable(node)
            elif node.number > active and not state.startswith("MAINT"):
                cluster.drain(node)
        users = [
            load_test.User(cluster.ports.haproxy, f"load{n}") for n in range(1, args.users + 1)
        ]
        for user in users:
            user.sign_in()
        load = argparse.Namespace(
            users=args.users,
            seconds=args.seconds,
            seed=1,
            workers=active * cluster.workers,
            max_requests=1_000_000,
            load_before=os.getloadavg()[0],
        )
        print(f"== {active} instance(s) × {cluster.workers} workers, {client}, {args.seconds} s")
        if client == "wrk":
            figures = load_test.run_wrk(cluster.ports.haproxy, users, ids, load)
            load_test.report_wrk(figures, load, url)
            seconds = figures["duration_us"] / 1e6
            rows.append(
                (
                    active,
                    figures["requests"] / seconds,
                    figures["p50_us"] / 1000,
                    figures["p95_us"] / 1000,
                    figures["p99_us"] / 1000,
                    figures["not_200"] + figures["socket_errors"],
                )
            )
        else:
            outcome = load_test.run(users, ids, load.seconds, load.max_requests)
            load_test.report(outcome, load, url)
            results, elapsed = outcome
            times = [ms for _kind, ms, _status in results]
            rows.append(
                (
                    active,
                    len(results) / elapsed,
                    load_test.percentile(times, 0.5),
                    load_test.percentile(times, 0.95),
                    load_test.percentile(times, 0.99),
                    sum(1 for *_rest, status in results if status != 200),
                )
            )
    print()
    print(f"through HAProxy, {args.users} connections, {args.seconds} s each ({client}):")
    print(f"{'instances':>9} {'workers':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for active, rate, p50, p95, p99, errors in rows:
        print(
            f"{active:9d} {active * cluster.workers:7d} {rate:7.1f} {p50:7.0f} {p95:7.0f} "
            f"{p99:7.0f}  errors {errors}"
        )
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--bench", action="store_true", help="load test with 1, 2, 3 instances")
    parser.add_argument("--rolling", action="store_true", help="rolling restart and kill -9")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)

    with Cluster(instances=args.instances, workers=args.workers) as cluster:
        if args.bench:
            bench(cluster, args)
        if args.rolling:
            rolling(cluster, users=min(args.users, 8))
        if not (args.bench or args.rolling):
            print(f"admin / {ADMIN_PASSWORD} at {cluster.url}; Ctrl-C stops everything")
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
