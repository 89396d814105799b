"""The deployment of deploy/ on loopback: nginx in front of gunicorn instances and a Celery
worker, on PostgreSQL and Redis, everything under one temporary folder.

nginx runs the site files of deploy/nginx/ themselves, with only ports and folders
substituted (a string the substitution expects and no longer finds is an error, so the files
and this harness cannot drift apart), as the current user with its own prefix, pid and logs:
Debian's /etc/nginx and its service are never touched. Each server runs in its own process
group, so that one gunicorn instance can be killed whole and everything is stopped at the
end, even after a failure. Used by bench/deploy_test.py (`make deploy-test`) and
bench/nginx.py.
"""

import http.client
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import environ
import psycopg2
from psycopg2 import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DEPLOY = BASE_DIR / "deploy"
BIN = Path(sys.executable).parent
#: The public host name of deploy/nginx/shop.conf, kept: the shop sees it as the browser sent it.
SHOP_HOST = "shop.example.com"
#: As in deploy/systemd/shop-web@.service.
GUNICORN_TIMEOUT = 20


class StackError(Exception):
    """Something of the deployment did not start or answer; the message says what."""


def add_arguments(parser, *, first_port: int, web_workers: int) -> None:
    """Ports (nginx's two, then the two instances') and workers per instance."""
    parser.add_argument("--http-port", type=int, default=first_port)
    parser.add_argument("--https-port", type=int, default=first_port + 1)
    parser.add_argument("--app-ports", type=int, nargs=2, default=[first_port + 2, first_port + 3])
    parser.add_argument(
        "--workers", type=int, default=web_workers, help="gunicorn workers per instance"
    )


def stack_from(args, *, database_suffix: str) -> "Stack":
    """The stack the command line asks for, on DATABASE_URL's server and REDIS_URL."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url.startswith("redis"):
        raise StackError("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    return Stack(
        database_url=database_url,
        redis_url=redis_url,
        http_port=args.http_port,
        https_port=args.https_port,
        app_ports=args.app_ports,
        web_workers=args.workers,
        database_suffix=database_suffix,
    )


class Stack:
    """nginx on `http_port` (redirects) and `https_port` (the shop), gunicorn instances on
    `app_ports`, a Celery worker; a database of its own, created fresh and dropped at the end.

    Use as a context manager: leaving it stops every process and drops the database.
    """

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        http_port: int,
        https_port: int,
        app_ports: list[int],
        web_workers: int,
        database_suffix: str,
    ):
        self.database = _fresh_database_url(database_url, suffix=database_suffix)
        self.http_port = http_port
        self.https_port = https_port
        self.app_ports = app_ports
        self.web_workers = web_workers
        self.tmp = Path(tempfile.mkdtemp(prefix="shop-deploy-"))
        self.mail_dir = self.tmp / "mail"
        self.media_dir = self.tmp / "media"
        self.nginx_dir = self.tmp / "nginx"
        for folder in (self.mail_dir, self.media_dir, self.nginx_dir):
            folder.mkdir()
        self.certificate = self.nginx_dir / "shop.pem"
        self.redis_url = redis_url
        self.apps: dict[int, subprocess.Popen] = {}
        self.worker: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> "Stack":
        # A SIGTERM (a CI timeout, `kill`) unwinds through __exit__ like any failure.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Every process this stack started, then its database and folder; never raises."""
        for process in [self.nginx, self.worker, *self.apps.values()]:
            if process is not None:
                _stop_group(process)
        try:
            _drop_database(self.database)
        except psycopg2.Error as error:
            print(f"warning: could not drop the test database: {error}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, *, web: bool) -> dict[str, str]:
        """The shop's environment as deploy/shop.env.example sets it behind nginx."""
        env = dict(os.environ)
        env.update(
            DEBUG="false",
            SECRET_KEY="deploy-test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            ALLOWED_HOSTS=SHOP_HOST,
            CSRF_TRUSTED_ORIGINS=f"https://{SHOP_HOST}",
            SHOP_URL=f"https://{SHOP_HOST}",
            DATABASE_URL=self.database,
            REDIS_URL=self.redis_url,
            CACHE_KEY_PREFIX=f"deploy-test-{os.getpid()}",
            CELERY_BROKER_URL=self.redis_url,
            MEDIA_ROOT=str(self.media_dir),
            USE_X_FORWARDED_PROTO="true",
            TRUSTED_PROXIES="127.0.0.1",
            PAYMENT_PROVIDERS="manual",
            LOG_LEVEL="WARNING",
            # Mails are written only by the Celery worker: a web process that sent one
            # itself (not through the queue) would leave no file.
            EMAIL_URL="dummymail://" if web else f"filemail:///{self.mail_dir}",
        )
        return env

    def prepare(self, *, products: int) -> None:
        """A fresh database with the demo catalog, and the static files collected."""
        _create_database(self.database)
        env = self.env(web=False)
        env.pop("CELERY_BROKER_URL")  # seeding runs its tasks inline
        seed = ["seed_demo", "--products", str(products), "--orders", "0"]
        for command in (["migrate", "--noinput"], seed, ["collectstatic", "--noinput"]):
            started = time.monotonic()
            _run([sys.executable, "manage.py", *command], env=env, log=self.tmp / "prepare.log")
            print(f"manage.py {' '.join(command)}: {time.monotonic() - started:.0f} s", flush=True)

    def start(self) -> None:
        """The gunicorn instances, the worker and nginx; returns once each instance answers."""
        self.write_certificate()
        for port in self.app_ports:
            self.start_app(port)
        self.worker = self._spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "shop",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "1",
                "--hostname",
                f"deploy-test-{os.getpid()}@%h",
            ],
            env=self.env(web=False),
        )
        self.write_nginx_config(self.app_ports)
        self.nginx = self._spawn(
            "nginx",
            [
                "nginx",
                "-p",
                str(self.nginx_dir),
                "-c",
                str(self.nginx_dir / "nginx.conf"),
                "-e",
                str(self.nginx_dir / "error.log"),
            ],
            env=dict(os.environ),
        )
        for port in self.app_ports:
            self.wait_for_app(port)
        self.wait_for(lambda: _status("127.0.0.1", self.http_port, "/") == 301, "nginx", seconds=20)

    def start_app(self, port: int) -> None:
        self.apps[port] = self._spawn(
            f"gunicorn-{port}",
            [
                str(BIN / "gunicorn"),
                "shop.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(self.web_workers),
                "--timeout",
                str(GUNICORN_TIMEOUT),
                # Its own, not the user's shared ~/.gunicorn/gunicorn.ctl.
                "--control-socket",
                str(self.tmp / f"gunicorn-{port}.ctl"),
            ],
            env=self.env(web=True),
        )

    def wait_for_app(self, port: int) -> None:
        """The instance's own /healthz, asked as nginx asks (host name, HTTPS)."""
        self.wait_for(
            lambda: _status("127.0.0.1", port, "/healthz") == 200,
            f"gunicorn on port {port}",
            seconds=90,
        )

    def kill_app(self, port: int) -> None:
        """SIGKILL to the instance's master and workers at once: a machine that died."""
        process = self.apps[port]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def wait_for(self, answered, what: str, *, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, process in self._processes():
                if process.poll() is not None and not (
                    name.startswith("gunicorn") and process.returncode == -signal.SIGKILL
                ):
                    raise StackError(f"{name} exited ({process.returncode}):\n{self.log(name)}")
            try:
                if answered():
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise StackError(f"{what} did not answer within {seconds:.0f} s")

    def log(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs(self) -> str:
        """The tail of every log, for a failure's message."""
        names = ["prepare", *(f"gunicorn-{p}" for p in self.app_ports), "worker", "nginx"]
        parts = [f"--- {name}.log\n{self.log(name)}" for name in names]
        error_log = self.nginx_dir / "error.log"
        if error_log.exists():
            tail = error_log.read_text(errors="replace").splitlines()[-20:]
            parts.append("--- nginx error.log\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- nginx ---------------------------------------------------------------------------
    def write_certificate(self) -> None:
        """A self-signed certificate for the shop's name and 127.0.0.1; clients trust it."""
        _run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={SHOP_HOST}",
                "-addext",
                f"subjectAltName=DNS:{SHOP_HOST},IP:127.0.0.1",
                "-keyout",
                str(self.nginx_dir / "shop.key"),
                "-out",
                str(self.certificate),
            ],
            env=dict(os.environ),
            log=self.tmp / "openssl.log",
        )

    def write_nginx_config(self, app_ports: list[int]) -> None:
        """deploy/nginx's two files with this stack's ports and folders, and an nginx.conf
        of its own around them (Debian's /etc/nginx/nginx.conf plays that part on a host)."""
        site = substitute(
            (DEPLOY / "nginx" / "shop.conf").read_text(),
            {
                "    listen [::]:80;\n": "",
                "    listen [::]:443 ssl http2;\n": "",
                "listen 80;": f"listen 127.0.0.1:{self.http_port};",
                "listen 443 ssl http2;": f"listen 127.0.0.1:{self.https_port} ssl http2;",
                "/etc/ssl/shop/fullchain.pem": str(self.certificate),
                "/etc/ssl/shop/privkey.pem": str(self.nginx_dir / "shop.key"),
                "/srv/shop/app/staticfiles/": f"{BASE_DIR / 'staticfiles'}/",
                "/var/lib/shop/media/": f"{self.media_dir}/",
                "/var/www/letsencrypt": str(self.nginx_dir / "acme"),
            },
        )
        (self.nginx_dir / "shop.conf").write_text(site)
        (self.nginx_dir / "shop-upstream.conf").write_text(
            upstream_with((DEPLOY / "nginx" / "shop-upstream.conf").read_text(), app_ports)
        )
        user = pwd.getpwuid(os.geteuid()).pw_name
        temp_paths = "".join(
            f"    {kind}_temp_path {self.nginx_dir / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.nginx_dir / "nginx.conf").write_text(
            # As root, nginx's workers would switch to "nobody", who cannot read the
            # temporary folder: they run as the current user instead.
            (f"user {user};\n" if os.geteuid() == 0 else "") + "daemon off;\n"
            "worker_processes 2;\n"
            f"pid {self.nginx_dir / 'nginx.pid'};\n"
            f"error_log {self.nginx_dir / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            "    sendfile on;\n"
            # Which instance answered each request, and the retries: what the test reads.
            "    log_format upstreams '$status $request_method $request_uri "
            "upstream=$upstream_addr statuses=$upstream_status';\n"
            f"    access_log {self.nginx_dir / 'access.log'} upstreams;\n"
            f"{temp_paths}"
            f"    include {self.nginx_dir / 'shop-upstream.conf'};\n"
            f"    include {self.nginx_dir / 'shop.conf'};\n"
            "}\n"
        )

    def reload_nginx(self, app_ports: list[int]) -> None:
        """Point nginx at other instances, as `nginx -s reload` would on a host."""
        self.write_nginx_config(app_ports)
        self.nginx.send_signal(signal.SIGHUP)
        time.sleep(1)  # the new workers take over; the old finish their requests

    def access_log(self) -> list[str]:
        return (self.nginx_dir / "access.log").read_text().splitlines()

    # --- processes -----------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str], *, env: dict[str, str]) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("ab")
        return subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole, never ours
        )

    def _processes(self):
        yield from ((f"gunicorn-{port}", process) for port, process in self.apps.items())
        if self.worker is not None:
            yield "worker", self.worker
        if self.nginx is not None:
            yield "nginx", self.nginx


def substitute(text: str, replacements: dict[str, str]) -> str:
    """Each replacement's original must be in the text: if a deploy file changed, say so."""
    for old, new in replacements.items():
        if old not in text:
            raise StackError(f"{old.strip()!r} is no longer in deploy/nginx: update bench/stack.py")
        text = text.replace(old, new)
    return text


def upstream_with(upstream: str, ports: list[int]) -> str:
    """The upstream file with its server lines replaced by one per port, with the same
    parameters (max_fails, fail_timeout) as the file's first server line."""
    servers = re.findall(r"^(\s*)server \S+( [^;]*)?;\n", upstream, flags=re.MULTILINE)
    if not servers:
        raise StackError("no server line in deploy/nginx/shop-upstream.conf")
    indent, parameters = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in ports)
    without = re.sub(r"^\s*server \S+( [^;]*)?;\n", "", upstream, flags=re.MULTILINE)
    return re.sub(r"(upstream \w+ \{\n)", lambda m: m.group(1) + lines, without, count=1)


def _status(host: str, port: int, path: str) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=3)
    try:
        connection.request("GET", path, headers={"Host": SHOP_HOST, "X-Forwarded-Proto": "https"})
        return connection.getresponse().status
    finally:
        connection.close()


def _run(command: list[str], *, env: dict[str, str], log: Path) -> None:
    with log.open("ab") as output:
        finished = subprocess.run(
            command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=600
        )
    if finished.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise StackError(f"{' '.join(command[:3])} failed ({finished.returncode}):\n{tail}")


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after 10 s: nothing this stack started survives."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _fresh_database_url(url: str, *, suffix: str) -> str:
    """The same server as DATABASE_URL, a database of our own beside the given one."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise StackError(f"DATABASE_URL must be PostgreSQL, not {parts.scheme}")
    name = (parts.path.lstrip("/") or "shop") + suffix
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection(url: str):
    """A connection to the server's maintenance database, and the name of ours."""
    config = environ.Env.db_url_config(url)
    connection = psycopg2.connect(
        dbname="postgres",
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
    )
    connection.autocommit = True
    return connection, config["NAME"]


def _create_database(url: str) -> None:
    _drop_database(url)  # a run killed before its end left it behind
    connection, name = _admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()


def _drop_database(url: str) -> None:
    connection, name = _admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    connection.close()
