"""A throwaway OpenStack Swift cluster with the S3 API, as real processes on loopback.

Debian's Swift packages (swift, swift-proxy, swift-object, swift-container, swift-account) provide
the daemons; this module writes their configuration into a temporary folder, builds one-device
rings (replicas 1) with `swift-ring-builder`, starts the account, container and object servers
and a proxy whose pipeline has `s3api` + `tempauth`, and waits until boto3 gets answers.

Nothing is read from or written to /etc/swift: every daemon is given `swift_dir` (its own
swift.conf and rings) and `devices` (the object data) inside the folder. Swift keeps object
metadata in user extended attributes, so the folder must be on a file system that has them: the
first of /dev/shm and the temp folder that does is used (`default_data_dirs`).

    python -m tests.s3server     # a cluster for manual use: prints its env, Ctrl-C stops it
"""

import contextlib
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from webapp.storage import s3_client_config, s3_storage

SERVERS = ("account", "container", "object")
BINARIES = (
    "swift-ring-builder",
    "swift-proxy-server",
    *(f"swift-{server}-server" for server in SERVERS),
)
REGION = "us-east-1"
# tempauth's user "test:tester": its name is the S3 access key and its password the secret.
ACCESS_KEY = "test:tester"
SECRET_KEY = "testing"
START_TIMEOUT_S = 60


class SwiftError(RuntimeError):
    """The cluster could not be built or did not start; the message carries the daemons' logs."""


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def _has_user_xattrs(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder) as probe:
            os.setxattr(probe.name, "user.swift.probe", b"1")
            return os.getxattr(probe.name, "user.swift.probe") == b"1"
    except OSError:
        return False


def xattr_capable_dir(*candidates: Path, min_free_bytes: int = 256 * 2**20) -> Path:
    """The first existing candidate folder with user xattrs and `min_free_bytes` free."""
    for folder in candidates:
        if (
            folder.is_dir()
            and _has_user_xattrs(folder)
            and shutil.disk_usage(folder).free >= min_free_bytes
        ):
            return folder
    names = ", ".join(str(folder) for folder in candidates)
    raise SwiftError(
        f"none of {names} is on a file system with user extended attributes and "
        f"{min_free_bytes // 2**20} MB free"
    )


def default_data_dirs(temp_dir: Path) -> tuple[Path, ...]:
    """Where a cluster's files may go, best first.

    /dev/shm first: the object server fsyncs every object it writes, which costs a disk write
    per stored file elsewhere (tmpfs has user xattrs since Linux 6.6). Then the temp folder.
    """
    return Path("/dev/shm"), temp_dir


def _swift_python() -> str:
    """The interpreter the Swift tools run on (Debian's python3, not this virtualenv)."""
    with open(shutil.which("swift-ring-builder"), "rb") as script:
        return script.readline().removeprefix(b"#!").decode().split()[0]


def _free_ports(count: int) -> list[int]:
    # Held open together so that the kernel hands out distinct ports.
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


_OWNER_FILE = "owner.pid"


@contextlib.contextmanager
def cluster_folder(parent: Path) -> Iterator[Path]:
    """A fresh folder for one cluster under `parent`, deleted afterwards.

    Folders that a killed run left behind (their owner process is gone) are deleted first:
    under /dev/shm they would hold memory until the machine restarts.
    """
    for stale in parent.glob("swift-*"):
        if not _owner_alive(stale):
            shutil.rmtree(stale, ignore_errors=True)
    root = Path(tempfile.mkdtemp(prefix="swift-", dir=parent))
    (root / _OWNER_FILE).write_text(str(os.getpid()))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _owner_alive(folder: Path) -> bool:
    try:
        pid = int((folder / _OWNER_FILE).read_text())
    except (OSError, ValueError):
        return True  # not a cluster folder, or one being made this instant: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent() -> None:
    # A daemon must not outlive a test run that was killed: PR_SET_PDEATHSIG (1) = SIGTERM.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class SwiftS3Server:
    """One private cluster in `root`; `start()` it, `stop()` it (or use it as a context manager)."""

    root: Path
    endpoint_url: str = ""
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: list = field(default_factory=list)

    def __enter__(self) -> "SwiftS3Server":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        ports = dict(zip(("proxy", *SERVERS, "memcache"), _free_ports(5), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{ports['proxy']}"
        (self.root / "devices" / "d1").mkdir(parents=True)
        (self.root / "swift.conf").write_text(_SWIFT_CONF.format(secret=secrets.token_hex(8)))
        common = {"swift_dir": self.root, "user": pwd.getpwuid(os.getuid()).pw_name}
        # The storage servers do not read the rings; they start while the rings are built.
        for server in SERVERS:
            conf = _SERVER_CONF.format(
                port=ports[server], devices=self.root / "devices", server=server, **common
            )
            self._spawn(f"{server}-server", conf)
        try:
            self._build_rings(ports)
        except BaseException:
            self.stop()
            raise
        proxy = _PROXY_CONF.format(
            port=ports["proxy"],
            pipeline=_PROXY_PIPELINE,
            region=self.region,
            memcache_port=ports["memcache"],
            auth_account=self.access_key.split(":")[0],
            auth_user=self.access_key.split(":")[1],
            auth_key=self.secret_key,
            **common,
        )
        self._spawn("proxy-server", proxy)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _build_rings(self, ports: dict[str, int]) -> None:
        """`swift-ring-builder FILE create 4 1 0 / add DEVICE 100 / rebalance` for each ring.

        Part power 4 (16 partitions), 1 replica, one device. The nine commands run through the
        ring builder's own `main` in one interpreter: nine separate starts of the tool take
        seconds on a busy machine.
        """
        commands = []
        for server in SERVERS:
            builder = str(self.root / f"{server}.builder")
            commands += [
                [builder, "create", "4", "1", "0"],
                [builder, "add", f"r1z1-127.0.0.1:{ports[server]}/d1", "100"],
                [builder, "rebalance"],
            ]
        result = subprocess.run(
            [_swift_python(), "-c", _RING_BUILDER_BATCH, json.dumps(commands)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SwiftError(f"building the rings failed:\n{result.stdout}{result.stderr}")

    def _spawn(self, name: str, conf: str) -> None:
        conf_path = self.root / f"{name}.conf"
        conf_path.write_text(conf)
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 closed in stop()
        self._logs.append(log)
        # --verbose: log to stdout (our log file) as well as to syslog, which may be absent.
        self._processes[name] = subprocess.Popen(
            [f"swift-{name}", str(conf_path), "--verbose"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def _wait_until_ready(self) -> None:
        client = self.client(retries=0)
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            exited = [name for name, proc in self._processes.items() if proc.poll() is not None]
            if exited:
                raise SwiftError(f"{', '.join(exited)} exited at start-up\n{self.logs()}")
            try:
                # A bucket and an object: an answer from each of the four daemons.
                probe = f"probe-{uuid.uuid4().hex}"
                client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"probe")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return
            except (BotoCoreError, ClientError) as exc:
                last_error = exc
                time.sleep(0.1)
        raise SwiftError(f"no S3 answer in {START_TIMEOUT_S} s ({last_error})\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for name in self._processes:
            text = (self.root / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} ---\n{text[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self._processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def client(self, retries: int = 2):
        """A boto3 S3 client signed with the cluster's key, configured like the app's storage."""
        config = s3_client_config().merge(
            Config(retries={"max_attempts": retries + 1, "mode": "standard"})
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )

    def storage_env(self, bucket: str, location: str = "") -> dict[str, str]:
        """The environment that points webapp.settings (in a subprocess) at `bucket`."""
        env = {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_S3_REGION_NAME": self.region,
        }
        if location:
            env["AWS_LOCATION"] = location
        return env

    def storage_settings(self, bucket: str, location: str = "") -> dict:
        """`STORAGES["default"]` for `bucket`: what webapp.settings builds from storage_env()."""
        return s3_storage(
            bucket=bucket,
            endpoint_url=self.endpoint_url,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            location=location,
        )


@dataclass
class S3Bucket:
    """A bucket of the cluster, a client for it and the env that points a process at it."""

    server: SwiftS3Server
    name: str
    location: str = ""
    client: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.client = self.server.client()

    @property
    def env(self) -> dict[str, str]:
        """Environment additions for a subprocess (a Celery worker, manage.py) on this bucket."""
        return self.server.storage_env(self.name, self.location)

    @property
    def storage_settings(self) -> dict:
        return self.server.storage_settings(self.name, self.location)

    def keys(self, prefix: str = "") -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def swift_url(self, key: str) -> str:
        """The object's URL on the Swift API, where a request without a token is anonymous."""
        account = "AUTH_" + self.server.access_key.split(":")[0]
        return f"{self.server.endpoint_url}/v1/{account}/{self.name}/{key}"

    def s3_url(self, key: str) -> str:
        return f"{self.server.endpoint_url}/{self.name}/{key}"


def create_bucket(server: SwiftS3Server, location: str = "") -> S3Bucket:
    """A new, private bucket with a unique name."""
    bucket = S3Bucket(server, f"test-{uuid.uuid4().hex[:20]}", location)
    bucket.client.create_bucket(Bucket=bucket.name, ACL="private")
    return bucket


def empty_and_delete_bucket(client, bucket: str) -> None:
    # One DELETE per object: botocore's multi-object delete sends a CRC32 checksum where
    # Swift 2.30 insists on Content-MD5.
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def url_status(url: str) -> tuple[int, bytes]:
    """Status and body of a plain, unsigned GET: what anyone who learnt the URL would get."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# Exit status 1 is a warning (such as "only one device"), 2 an error.
_RING_BUILDER_BATCH = """\
import json, sys
from swift.cli.ringbuilder import main
for command in json.loads(sys.argv[1]):
    try:
        main(["swift-ring-builder", *command])
        status = 0
    except SystemExit as exit:
        status = exit.code or 0
    if status not in (0, 1):
        sys.exit(f"swift-ring-builder {' '.join(command)} exited with {status}")
"""

_SWIFT_CONF = """\
[swift-hash]
swift_hash_path_prefix = {secret}
swift_hash_path_suffix = {secret}

[storage-policy:0]
name = Policy-0
default = yes
"""

_SERVER_CONF = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {swift_dir}
devices = {devices}
mount_check = false
log_level = WARNING

[pipeline:main]
pipeline = {server}-server

[app:{server}-server]
use = egg:swift#{server}
"""

# The pipeline of Swift's own s3api example, without the middlewares these tests do not use.
_PROXY_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth "
    "copy slo dlo proxy-logging proxy-server"
)
# memcache points at a port nothing listens on: tempauth insists on the middleware, but with S3
# signatures it checks every request against its user table and needs no cached token.
_PROXY_CONF = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {swift_dir}
log_level = WARNING

[pipeline:main]
pipeline = {pipeline}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = {region}

[filter:tempauth]
use = egg:swift#tempauth
user_{auth_account}_{auth_user} = {auth_key} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcache_port}
set log_level = CRITICAL

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
"""


def _serve_forever() -> None:
    bucket = "media"
    parent = xattr_capable_dir(*default_data_dirs(Path(tempfile.gettempdir())))
    with cluster_folder(parent) as root, SwiftS3Server(root) as server:
        server.client().create_bucket(Bucket=bucket)
        for name, value in server.storage_env(bucket).items():
            print(f"export {name}={value}")
        print("# Ctrl-C stops the cluster and deletes", root, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    _serve_forever()
