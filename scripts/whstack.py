"""whstack: the local stack of mod_webhook as Python objects (standard library only).

A stack is a private MariaDB server, Apache httpd with mod_webhook and its generated config,
and webhook-worker under a small supervisor, all in one state directory, on loopback ports,
touching no system service or system config. `scripts/stack` is its command line; the
integration harness (tests/integration/harness.py) and `scripts/bench` use it in-process.

    stack = Stack(state_dir, build_dir, environ={...WEBHOOK_* settings...})
    stack.up()                      # MariaDB, migrations, logins, Apache, worker
    stack.db.stop(); stack.db.start()
    stack.node(2).kill(); stack.start_node(2)   # WEBHOOK_DB_NODES=3: a Galera cluster
    stack.worker.stop(); stack.httpd.pid()
    stack.down()

Each component is an object with its own directory, ports, pid file and log, so that
several MariaDB servers run side by side: `MariaDB(dir, port, options)`, and the nodes of a
local Galera cluster, `GaleraNode(number, dir, port, galera_ports, gcomm_ports)`.
Settings are the WEBHOOK_* variables documented in scripts/stack; `environ` is both where
they are read and the environment of every process the stack starts.
"""

import base64
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DB_NAME = "webhook"
DB_USER = "webhook"
API_USER = "admin"
DEFAULT_HTTP_PORT = 8480
DEFAULT_DB_PORT = 13306
# The seeded catalogue's size: fewer rows after the migrations means they did not all run.
MIN_EVENT_TYPES = 14


class StackError(RuntimeError):
    pass


def _stderr_log(msg):
    print("[stack] %s" % msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# ports

# Below Linux's ephemeral range (32768+), so an outgoing connection cannot take a port
# between this check and the server's bind.
PORT_LOW, PORT_HIGH = 20000, 32000


def port_free(port, kind=socket.SOCK_STREAM):
    """True if 127.0.0.1:port can be bound (TCP, or UDP with kind=socket.SOCK_DGRAM)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n=1, kind=socket.SOCK_STREAM, avoid=()):
    """n distinct free ports on 127.0.0.1, drawn at random in PORT_LOW..PORT_HIGH, never
    the stack's default ports nor those in avoid."""
    skip = {DEFAULT_HTTP_PORT, DEFAULT_DB_PORT} | {int(a) for a in avoid}
    ports = []
    rng = random.SystemRandom()
    for _ in range(10000):
        if len(ports) == n:
            return ports
        port = rng.randint(PORT_LOW, PORT_HIGH)
        if port not in skip and port not in ports and port_free(port, kind):
            ports.append(port)
    raise StackError("could not find %d free ports on 127.0.0.1" % n)


def free_port(kind=socket.SOCK_STREAM, avoid=()):
    return free_ports(1, kind, avoid)[0]


def port_answers(port):
    """True if something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------
# processes and files

def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, …); None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def pid_alive(pid):
    """A live process (a zombie, exited but not yet reaped, counts as gone)."""
    return proc_state(pid) not in (None, "Z")


def read_pid(path):
    try:
        with open(path) as f:
            digits = "".join(c for c in f.read() if c.isdigit())
        return int(digits) if digits else None
    except OSError:
        return None


def pid_of(pidfile, comm=None):
    """The pid in pidfile if it names a live process (named comm: not a recycled pid)."""
    pid = read_pid(pidfile)
    if pid is None or not pid_alive(pid):
        return None
    if comm:
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != comm:
                    return None
        except OSError:
            return None
    return pid


def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def wait_for(predicate, seconds, interval=0.2):
    """predicate()'s first truthy value within seconds, else None."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def random_hex(nbytes):
    return os.urandom(nbytes).hex()


def read_kv(path):
    """KEY=value lines of a file ({} if it does not exist)."""
    values = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    values[k] = v
    except FileNotFoundError:
        pass
    return values


def write_private(path, text, mode=0o600):
    """Writes text to path through a temporary file (readers never see half of it)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def tail(path, lines=30):
    """The last lines of a log, framed, for failure messages ('' if there is no such file)."""
    try:
        with open(path, errors="replace") as f:
            text = f.readlines()[-lines:]
    except OSError:
        return ""
    return "----- last lines of %s -----\n%s-----\n" % (path, "".join(text))


def short_hash(text):
    return str(zlib.crc32(text.encode()))


def sql_quote(value):
    """A single-quoted SQL string literal."""
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "''")


# ------------------------------------------------------------------------------------------
# sanitizer builds

def linked_libraries(so_path):
    """{library name without .so…: path} of what so_path links ({} when unknown)."""
    try:
        out = subprocess.run(["ldd", so_path], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    libs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>":
            libs.setdefault(parts[0].split(".so")[0], parts[2])
    return libs


def sanitizer_env(module_so, report_dir, component, preload="auto"):
    """Environment additions for running `component` (apache2 or worker) on a sanitizer
    build: {} for a normal build. An instrumented mod_webhook.so needs the ASan runtime first
    in apache2's initial library list, so apache2 (and the worker, for uniform options) start
    with it in LD_PRELOAD; reports go to report_dir/{asan,ubsan}-<component>.PID.
    preload: "auto" (the libasan module_so links, if any), "off", or a path."""
    libs = linked_libraries(module_so) if preload in ("auto", "") else {}
    if preload in ("auto", ""):
        preload = libs.get("libasan", "")
    if not preload or preload == "off":
        return {}
    if not os.path.isfile(preload):
        raise StackError("WEBHOOK_SANITIZE_PRELOAD: no file %s" % preload)
    # apache2 is C: without libstdc++ loaded at start-up, ASan's __cxa_throw interceptor finds
    # no real function and the first C++ exception in the module dies in a CHECK failure
    cxx = (libs or linked_libraries(module_so)).get("libstdc++")
    if cxx:
        preload = "%s:%s" % (preload, cxx)
    os.makedirs(report_dir, exist_ok=True)
    os.chmod(report_dir, 0o1777)  # the Apache children run as nobody and write their own reports
    leaks = 0 if component == "apache2" else 1  # httpd's pools confuse LeakSanitizer
    return {
        "LD_PRELOAD": preload,
        "ASAN_OPTIONS": "detect_leaks=%d:halt_on_error=1:abort_on_error=0:log_path=%s/asan-%s"
                        % (leaks, report_dir, component),
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan-%s" % (report_dir, component),
    }


# ------------------------------------------------------------------------------------------
# MariaDB

class MariaDB:
    """One mariadbd with its own directory (data/, error.log, mysqld.pid), TCP port, unix
    socket and options. `options` are extra mariadbd arguments (config fragments), appended
    after the defaults so they win; several servers can run side by side."""

    BASE_OPTIONS = ("--skip-name-resolve", "--innodb-buffer-pool-size=64M",
                    "--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci", "--max-connections=300")

    def __init__(self, directory, port, socket_path=None, options=(), environ=None, log=_stderr_log,
                 name="mariadb"):
        self.name = name
        self.dir = directory
        self.data = os.path.join(directory, "data")
        self.port = int(port)
        self.socket = socket_path or self.default_socket(directory)
        self.pidfile = os.path.join(directory, "mysqld.pid")
        self.log_path = os.path.join(directory, "error.log")
        self.options = list(options)
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.root_password = ""
        self.run_user = _user_name()  # mariadbd's --user

    @staticmethod
    def default_socket(directory):
        sock = os.path.join(directory, "mysqld.sock")
        # unix socket paths are limited to ~107 bytes; a deep checkout gets a short, stable one
        # (one per server directory: several servers of one stack each get their own)
        if len(sock) > 100:
            sock = "/tmp/mod_webhook-%s/mysqld.sock" % short_hash(directory)
        return sock

    @property
    def initialized(self):
        return os.path.exists(os.path.join(self.dir, ".initialized"))

    def mark_initialized(self):
        open(os.path.join(self.dir, ".initialized"), "w").close()

    def pid(self):
        return pid_of(self.pidfile, "mariadbd")

    def ping(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.socket, "--connect-timeout=2",
                               "ping"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=self.environ).returncode == 0

    def argv(self):
        return (["mariadbd", "--no-defaults", "--datadir=" + self.data, "--user=" + self.run_user,
                 "--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
                 "--pid-file=" + self.pidfile, "--log-error=" + self.log_path]
                + list(self.BASE_OPTIONS) + self.server_options() + self.options)

    def server_options(self):
        """Options of this kind of server, between the defaults and the extra options."""
        return []

    def prepare_dirs(self):
        """Called before each start, once the data dir exists."""

    def install(self):
        """A fresh data dir (mariadb-install-db); returns True if it made one."""
        if self.initialized:
            return False
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        self.log("initialising MariaDB data dir %s" % self.data)
        install_log = os.path.join(self.dir, "install.log")
        with open(install_log, "w") as out:
            rc = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.data,
                                 "--user=" + self.run_user, "--auth-root-authentication-method=normal",
                                 "--skip-test-db"], stdout=out, stderr=subprocess.STDOUT, env=self.environ).returncode
        if rc != 0:
            raise StackError("mariadb-install-db failed\n" + tail(install_log))
        return True

    def start(self, timeout=60):
        """Starts mariadbd (installing a data dir first if there is none) and waits until it
        answers on its socket and has written its pid file. Returns True if the data dir is
        new (its users are still to be created)."""
        pid = self.pid()
        if pid:
            self.log("%s already running (pid %d)" % (self.name, pid))
            return False
        if port_answers(self.port):
            raise StackError("port 127.0.0.1:%d is already in use (set WEBHOOK_DB_PORT)" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        fresh = self.install()
        self.prepare_dirs()
        for f in (self.socket, self.pidfile):
            if os.path.lexists(f):
                os.unlink(f)
        self.log("starting mariadbd on 127.0.0.1:%d%s" % (
            self.port, " (extra: %s)" % " ".join(self.options) if self.options else ""))
        with open(self.log_path, "ab") as out:
            launcher = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                        env=self.environ, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if launcher.poll() is not None:
                raise StackError("mariadbd exited during start-up\n" + tail(self.log_path))
            if time.monotonic() >= deadline:
                raise StackError("mariadbd did not answer within %d s\n%s" % (timeout, tail(self.log_path)))
            time.sleep(0.2)
        # the pid file appears a moment after the socket
        if not wait_for(self.pid, 10, 0.1):
            raise StackError("mariadbd wrote no pid file")
        return fresh

    def stop(self, seconds=60):
        """SIGTERM, waits; KILL after `seconds`. False if it had to be killed."""
        return stop_process(self.name, self.pid(), seconds, self.log)

    def kill(self):
        """SIGKILL, as a crash would end it; waits until it is gone."""
        pid = self.pid()
        if not pid:
            raise StackError("%s is not running" % self.name)
        self.log("killing %s (pid %d)" % (self.name, pid))
        _signal(pid, signal.SIGKILL)
        if not wait_gone(pid, 10):
            raise StackError("%s (pid %d) survived SIGKILL" % (self.name, pid))

    def restart(self):
        self.stop()
        self.start()

    def start_member(self, peers=(), timeout=60):
        """start(), for a server with no cluster; GaleraNode joins the running peers."""
        return self.start(timeout)

    def client_argv(self, user, database=None, extra=()):
        return client_argv(self.socket, user, database, extra)

    def run_sql(self, query, user="root", password=None, database=None, check=True):
        """Runs query with the mariadb client; returns rows (tuples of str, NULL -> None)."""
        pw = self.root_password if password is None and user == "root" else password
        p = query_client(self.socket, user, pw, query, database, self.environ)
        if check and p.returncode != 0:
            raise StackError("mariadb failed (%d) for %r: %s" % (p.returncode, query[:300], p.stderr.strip()))
        return rows_of(p.stdout)

    def create_database(self, name, user, password, root_password):
        """The application's database and user (over the socket and 127.0.0.1), then a root
        password: run once, on a fresh data dir."""
        u = sql_quote(user)
        self.run_sql(
            "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
            "CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED BY %s;"
            "CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s;"
            "GRANT ALL PRIVILEGES ON `%s`.* TO %s@'localhost', %s@'127.0.0.1';"
            "ALTER USER 'root'@'localhost' IDENTIFIED BY %s;"
            "FLUSH PRIVILEGES;" % (name, u, sql_quote(password), u, sql_quote(password), name, u, u,
                                   sql_quote(root_password)), user="root", password="")
        self.root_password = root_password


GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"  # Debian's galera-4
CLUSTER_NAME = "webhook-stack"


class GaleraNode(MariaDB):
    """Node `number` (from 1) of a local MariaDB Galera cluster: a MariaDB with wsrep on and
    three more loopback ports, galera_ports = (group communication, IST, SST). gcomm_ports are
    the group communication ports of every node (the cluster address). The node runs as the
    mysql user when the stack runs as root: rsync state transfer refuses to run as root.
    Node 1 makes the data dir and bootstraps the cluster; the others receive theirs by state
    transfer from a running node."""

    # small enough for three nodes on two cores; gcache keeps the write sets a node that was
    # down briefly receives by IST instead of a full copy (SST)
    GALERA_OPTIONS = ("--innodb-buffer-pool-size=32M", "--innodb-log-file-size=32M", "--binlog-format=ROW",
                      "--innodb-autoinc-lock-mode=2", "--default-storage-engine=InnoDB", "--wsrep-on=ON",
                      "--wsrep-provider=" + GALERA_PROVIDER, "--wsrep-cluster-name=" + CLUSTER_NAME,
                      "--wsrep-sst-method=rsync")
    GCACHE_SIZE = "64M"

    def __init__(self, number, directory, port, galera_ports, gcomm_ports, socket_path=None, options=(),
                 environ=None, log=_stderr_log):
        super().__init__(directory, port, socket_path, options, environ, log, name="mariadb node %d" % number)
        self.number = number
        self.gcomm_port, self.ist_port, self.sst_port = (int(p) for p in galera_ports)
        self.gcomm_ports = [int(p) for p in gcomm_ports]
        if os.getuid() == 0:
            self.run_user = "mysql"
        self.bootstrap = False  # start a new primary component (--wsrep-new-cluster)
        self.start_position = None  # UUID:seqno recovered after a crash (--wsrep-start-position)

    def server_options(self):
        provider = ";".join(("gmcast.listen_addr=tcp://127.0.0.1:%d" % self.gcomm_port,
                             "ist.recv_addr=127.0.0.1:%d" % self.ist_port, "gcache.size=" + self.GCACHE_SIZE))
        opts = list(self.GALERA_OPTIONS) + [
            "--wsrep-node-name=node%d" % self.number,
            "--wsrep-cluster-address=gcomm://" + ",".join("127.0.0.1:%d" % p for p in self.gcomm_ports),
            "--wsrep-node-address=127.0.0.1:%d" % self.gcomm_port,
            "--wsrep-node-incoming-address=127.0.0.1:%d" % self.port,
            "--wsrep-sst-receive-address=127.0.0.1:%d" % self.sst_port,
            "--wsrep-provider-options=" + provider]
        if self.start_position:
            opts.append("--wsrep-start-position=" + self.start_position)
        return opts + (["--wsrep-new-cluster"] if self.bootstrap else [])

    def install(self):
        """Node 1: a fresh data dir. The others: an empty one, which state transfer fills."""
        if self.number == 1 or self.initialized:
            return super().install()
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        return True

    def prepare_dirs(self):
        """The node's directories belong to the user it runs as (rsync writes the data dir)."""
        if self.run_user == _user_name():
            return
        for f in (self.log_path, self.recover_log):
            open(f, "a").close()
        for d in (self.dir, os.path.dirname(self.socket)):
            rc = subprocess.run(["chown", "-R", "%s:" % self.run_user, d]).returncode
            if rc != 0:
                raise StackError("chown -R %s %s failed" % (self.run_user, d))
        reach = subprocess.run(["runuser", "-u", self.run_user, "--", "test", "-w", self.data],
                               stderr=subprocess.DEVNULL).returncode
        if reach != 0:
            raise StackError("user %s cannot reach %s (a directory above it is closed to it): put the "
                             "state dir elsewhere (WEBHOOK_STATE_DIR)" % (self.run_user, self.data))

    @property
    def recover_log(self):
        return os.path.join(self.dir, "recover.log")

    def grastate(self):
        """{uuid, seqno, safe_to_bootstrap} of the data dir's grastate.dat ({} if none)."""
        return {k: v.strip() for k, v in (line.split(":", 1) for line in _lines(os.path.join(self.data, "grastate.dat"))
                                          if ":" in line and not line.startswith("#"))}

    def recover_position(self):
        """After a crash grastate.dat has no seqno (-1); the node's position is in InnoDB.
        mariadbd --wsrep-recover reads it (as Debian's galera_recovery does) so that the node
        rejoins by IST instead of receiving a full copy (SST). None when there is nothing to
        recover."""
        state = self.grastate()
        if state.get("seqno") != "-1" or state.get("uuid", "").strip("0-") == "":
            return None
        self.prepare_dirs()
        with open(self.recover_log, "w"):
            pass
        argv = [a for a in self.argv() if a != "--wsrep-new-cluster" and not a.startswith("--wsrep-start-position")]
        subprocess.run(argv + ["--wsrep-recover", "--log-error=" + self.recover_log], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.environ, timeout=120)
        found = re.findall(r"WSREP: Recovered position: (\S+:\d+)", "".join(_lines(self.recover_log)))
        if found:
            self.log("%s: recovered position %s after a crash" % (self.name, found[-1]))
        return found[-1] if found else None

    def wait_evicted(self, peers, timeout):
        """Waits until the running peers no longer count a previous incarnation of this node
        (they drop a dead node after evs.suspect_timeout, 5 s): a node that joins before that
        waits far longer for a view."""
        me = "127.0.0.1:%d" % self.port  # its wsrep_node_incoming_address

        def settled():
            return not any(me in p.wsrep_status().get("wsrep_incoming_addresses", "").split(",") for p in peers)
        if not wait_for(settled, timeout, 0.5):
            self.log("%s: the other nodes still count a previous run of it; starting anyway" % self.name)

    def allow_bootstrap(self):
        """Galera refuses to bootstrap from a node that was not the last to leave (or after a
        crash of every node). The stack bootstraps from node 1 only when no node runs, so the
        refusal protects nothing here: say so, and clear it."""
        path = os.path.join(self.data, "grastate.dat")
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            return
        if "safe_to_bootstrap: 0" in text:
            self.log("%s was not the last node to leave the cluster; bootstrapping from it anyway "
                     "(transactions only other nodes committed after it left are lost)" % self.name)
            with open(path, "w") as f:
                f.write(text.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1"))

    def start_member(self, peers=(), timeout=120):
        """Starts the node and waits until it is Synced: it joins the peers (the nodes that run)
        by IST, or by SST when its data is missing or too old; with no peer, node 1 bootstraps
        the cluster from its data. Returns start()'s answer (True: a new data dir)."""
        if self.pid():
            self.log("%s already running (pid %d)" % (self.name, self.pid()))
            return False
        t0 = time.monotonic()
        self.bootstrap = not peers
        if self.bootstrap:
            self.allow_bootstrap()
        else:
            self.wait_evicted(peers, 30)
        self.start_position = self.recover_position()
        fresh = self.start(timeout)
        self.wait_synced(timeout)
        if self.number != 1:
            self.mark_initialized()
        self.log("%s Synced (pid %d, %.1f s%s)" % (self.name, self.pid(), time.monotonic() - t0,
                                                  ", bootstrapped the cluster" if self.bootstrap else ""))
        return fresh

    def wsrep_status(self):
        """The node's wsrep_* status variables ({} when it does not answer)."""
        try:
            p = query_client(self.socket, "root", self.root_password, "SHOW GLOBAL STATUS LIKE 'wsrep%'",
                             environ=self.environ, timeout=10)
        except subprocess.TimeoutExpired:
            return {}
        if p.returncode != 0:
            return {}
        return dict(row for row in rows_of(p.stdout) if len(row) == 2)

    def state(self):
        """wsrep_local_state_comment: Synced, Joining, Donor/Desynced, … (None: no answer)."""
        return self.wsrep_status().get("wsrep_local_state_comment")

    def wait_synced(self, timeout):
        if not wait_for(lambda: self.state() == "Synced", timeout, 0.2):
            raise StackError("%s is not Synced after %d s (state: %s)\n%s" % (
                self.name, timeout, self.state(), tail(self.log_path)))


def client_argv(socket_path, user, database=None, extra=()):
    """The mariadb client over a unix socket (its password: MYSQL_PWD in its environment)."""
    argv = ["mariadb", "--no-defaults", "--socket=" + socket_path, "--user=" + user]
    if database:
        argv.append("--database=" + database)
    return argv + list(extra)


def query_client(socket_path, user, password, query, database=None, environ=None, raw=True, timeout=900):
    """Runs query with the mariadb client (batch, no column names, raw unless raw=False);
    returns the CompletedProcess (text stdout/stderr)."""
    env = dict(os.environ if environ is None else environ)
    env.pop("MYSQL_PWD", None)
    if password:
        env["MYSQL_PWD"] = password
    flags = ["--batch", "--skip-column-names"] + (["--raw"] if raw else []) + ["-e", query]
    return subprocess.run(client_argv(socket_path, user, database, flags), capture_output=True, text=True,
                          env=env, timeout=timeout)


def rows_of(batch_output):
    """Rows of the client's batch output: tuples of str, NULL -> None."""
    return [tuple(None if c == "NULL" else c for c in line.split("\t")) for line in batch_output.splitlines()]


def _lines(path):
    """The lines of a text file ([] if it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return f.readlines()
    except OSError:
        return []


def _user_name():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def stop_process(name, pid, seconds, log=_stderr_log):
    """SIGTERM to pid, waits `seconds`, then SIGKILL. True if it ended (or was not running)
    on SIGTERM; False if it had to be killed. StackError if it survives SIGKILL."""
    if not pid:
        log("%s not running" % name)
        return True
    log("stopping %s (pid %d)" % (name, pid))
    _signal(pid, signal.SIGTERM)
    if wait_gone(pid, seconds):
        return True
    log("%s (pid %d) did not exit within %ds; sending KILL" % (name, pid, seconds))
    _signal(pid, signal.SIGKILL)
    if not wait_gone(pid, 10):
        raise StackError("%s (pid %d) survived SIGKILL" % (name, pid))
    return False


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------------------------------
# Apache httpd

class Httpd:
    """apache2 with mod_webhook: its directory (httpd.conf rendered from
    conf.d/httpd-stack.conf.in, run/httpd.pid, logs/error_log), its port and its values."""

    TEMPLATE = os.path.join(REPO, "conf.d", "httpd-stack.conf.in")

    def __init__(self, directory, port, module_so, apache_bin="/usr/sbin/apache2", environ=None,
                 log=_stderr_log, sanitizer_dir=None, sanitizer_preload="auto"):
        self.dir = directory
        self.port = int(port)
        self.module_so = module_so
        self.apache_bin = apache_bin
        self.conf = os.path.join(directory, "httpd.conf")
        self.pidfile = os.path.join(directory, "run", "httpd.pid")
        self.error_log = os.path.join(directory, "logs", "error_log")
        self.startup_log = os.path.join(directory, "logs", "startup.log")
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.sanitizer_dir = sanitizer_dir
        self.sanitizer_preload = sanitizer_preload
        self.values = {}   # template placeholder -> value (render())
        self.probe = None  # (url, user, password) that answers once the module serves

    def pid(self):
        return pid_of(self.pidfile, "apache2")

    def render(self):
        with open(self.TEMPLATE, encoding="utf-8") as f:
            text = f.read()
        values = dict(self.values, HTTPD_DIR=self.dir, HTTP_PORT=str(self.port), MODULE_SO=self.module_so)
        for key, value in values.items():
            text = text.replace("@%s@" % key, value)
        write_private(self.conf, text, 0o600)

    def answer(self):
        """The HTTP status of the probe request (0: no answer)."""
        url, user, password = self.probe
        req = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (user, password)).encode()).decode()})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, ValueError):
            return 0

    def environment(self):
        """The environment apache2 runs in (a sanitizer build: its runtime preloaded)."""
        env = dict(self.environ)
        if self.sanitizer_dir:
            san = sanitizer_env(self.module_so, self.sanitizer_dir, "apache2", self.sanitizer_preload)
            if san:
                self.log("apache under sanitizers: LD_PRELOAD=%s; reports in %s"
                         % (san["LD_PRELOAD"], self.sanitizer_dir))
            env.update(san)
        return env

    def start(self, timeout=30):
        pid = self.pid()
        if pid:
            self.log("apache already running (pid %d)" % pid)
            return
        if port_answers(self.port):
            raise StackError("port 127.0.0.1:%d is already in use (set WEBHOOK_HTTP_PORT)" % self.port)
        if not os.path.isfile(self.module_so):
            raise StackError("module not found: %s (build first, or unset WEBHOOK_SKIP_BUILD)" % self.module_so)
        for d in (self.dir, os.path.join(self.dir, "run"), os.path.join(self.dir, "logs")):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "run"), 0o755)
        self.render()
        env = self.environment()
        test_log = os.path.join(self.dir, "logs", "configtest.log")
        with open(test_log, "w") as out:
            rc = subprocess.run([self.apache_bin, "-t", "-f", self.conf], stdout=out, stderr=subprocess.STDOUT,
                                env=env).returncode
        if rc != 0:
            with open(test_log, errors="replace") as f:
                raise StackError("apache rejected %s\n%s" % (self.conf, f.read()))
        if os.path.lexists(self.pidfile):
            os.unlink(self.pidfile)
        self.log("starting apache on 127.0.0.1:%d" % self.port)
        with open(self.startup_log, "ab") as out:
            rc = subprocess.run([self.apache_bin, "-f", self.conf, "-k", "start"], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, env=env).returncode
        if rc != 0:
            raise StackError("apache failed to start\n" + tail(self.startup_log) + tail(self.error_log))
        code = wait_for(lambda: self.pid() and self.answer(), timeout)
        if not code:
            raise StackError("apache did not answer on %s within %d s\n%s%s" % (
                self.probe[0], timeout, tail(self.startup_log), tail(self.error_log)))
        self.log("apache up (pid %s), GET %s -> HTTP %d" % (self.pid(), self.probe[0], code))
        if code != 200:
            self.log("warning: expected HTTP 200 from GET /event-types, got %d (see %s)" % (code, self.error_log))

    def stop(self, seconds=20):
        return stop_process("apache", self.pid(), seconds, self.log)


# ------------------------------------------------------------------------------------------
# webhook-worker

class Worker:
    """webhook-worker under a supervisor (`python3 whstack.py supervise-worker`) that writes
    how the worker ended into worker.log: stack_down in the integration tests fails on a
    crash line. Its directory holds worker.conf, worker.log, worker.pid, wrapper.pid."""

    def __init__(self, directory, binary, environ=None, log=_stderr_log, sanitizer_env_fn=None):
        self.dir = directory
        self.binary = binary
        self.conf = os.path.join(directory, "worker.conf")
        self.log_path = os.path.join(directory, "worker.log")
        self.pidfile = os.path.join(directory, "worker.pid")
        self.wrapper_pidfile = os.path.join(directory, "wrapper.pid")
        self.stopping = os.path.join(directory, "stopping")
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.sanitizer_env_fn = sanitizer_env_fn or (lambda: {})
        self.settings = []  # (key, value) lines of worker.conf

    def pid(self):
        return pid_of(self.pidfile, "webhook-worker")

    def write_conf(self):
        os.makedirs(self.dir, exist_ok=True)
        lines = ["# webhook-worker config of the local stack (rendered by scripts/stack)"]
        lines += ["%s = %s" % kv for kv in self.settings]
        write_private(self.conf, "\n".join(lines) + "\n", 0o600)

    def start(self):
        pid = self.pid()
        if pid:
            self.log("worker already running (pid %d)" % pid)
            return
        if not os.access(self.binary, os.X_OK):
            raise StackError("worker binary not found: %s" % self.binary)
        self.write_conf()
        for f in (self.pidfile, self.stopping):
            if os.path.lexists(f):
                os.unlink(f)
        san = self.sanitizer_env_fn()
        self.log("starting webhook-worker")
        with open(self.log_path, "ab") as out:
            wrapper = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "supervise-worker", self.binary, self.conf,
                 self.pidfile, self.dir] + ["%s=%s" % kv for kv in san.items()],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=self.environ, start_new_session=True)
        with open(self.wrapper_pidfile, "w") as f:
            f.write("%d\n" % wrapper.pid)
        pid = wait_for(self.pid, 10, 0.1)
        if not pid:
            raise StackError("webhook-worker did not start\n" + tail(self.log_path))
        # it must still be alive a moment later (bad config, DB unreachable at start, …)
        time.sleep(1)
        if not self.pid():
            raise StackError("webhook-worker exited right after start\n" + tail(self.log_path))
        self.log("worker up (pid %d)" % pid)

    def stop(self, seconds=20):
        pid = self.pid()
        if not pid:
            self.log("worker not running")
            return True
        open(self.stopping, "w").close()  # the supervisor logs a clean stop, not a crash
        try:
            ok = stop_process("worker", pid, seconds, self.log)
        except StackError:
            ok = False
        # let the supervisor write its last line
        wpid = pid_of(self.wrapper_pidfile)
        if wpid and not wait_gone(wpid, 5):
            _signal(wpid, signal.SIGTERM)
        if os.path.lexists(self.stopping):
            os.unlink(self.stopping)
        return ok


def supervise_worker(binary, conf, pidfile, directory, assignments):
    """Runs the worker (assignments: VAR=value for it alone), records its pid and says in
    the log (stdout) how it ended: stopped on request, CRASHED, or exited unexpectedly."""
    def stamp():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = dict(os.environ)
    env.update(a.split("=", 1) for a in assignments)
    p = subprocess.Popen([binary, "--config", conf], stdin=subprocess.DEVNULL, env=env)
    with open(pidfile, "w") as f:
        f.write("%d\n" % p.pid)
    print("[stack] %s webhook-worker started (pid %d)" % (stamp(), p.pid), flush=True)
    rc = p.wait()
    if rc < 0:
        rc = 128 - rc  # the shell's convention: 128 + signal number
    if os.path.exists(os.path.join(directory, "stopping")) and rc in (0, 128 + signal.SIGTERM):
        print("[stack] %s webhook-worker (pid %d) stopped, status %d" % (stamp(), p.pid, rc), flush=True)
    elif rc > 128:
        try:
            name = signal.Signals(rc - 128).name[3:]
        except ValueError:
            name = "?"
        print("[stack] %s webhook-worker (pid %d) CRASHED: killed by signal %d (%s)" % (stamp(), p.pid, rc - 128, name),
              flush=True)
    else:
        print("[stack] %s webhook-worker (pid %d) exited unexpectedly with status %d" % (stamp(), p.pid, rc),
              flush=True)
    if os.path.lexists(pidfile):
        os.unlink(pidfile)


# ------------------------------------------------------------------------------------------
# the stack

class Settings:
    """The WEBHOOK_* settings of a stack. `up` takes explicit settings from environ first;
    every other command talks to the stack that exists, so its env file wins there (a stray
    `eval $(scripts/stack env)` of another stack must not redirect `status` or `down`)."""

    def __init__(self, environ, previous, for_up):
        self.environ, self.previous, self.for_up = environ, previous, for_up

    def get(self, name, default):
        prev = self.previous.get(name)
        if not self.for_up and prev:
            return prev
        return self.environ.get(name) or prev or default


class Stack:
    """A stack in one state directory. Paths (.state/ layout): env, credentials, secret.key,
    migrate.log, mariadb/ (the server, or Galera node 1), mariadb-node2/… (the other nodes
    with WEBHOOK_DB_NODES > 1), httpd/, worker/, sanitizer/."""

    def __init__(self, state_dir, build_dir=None, environ=None, for_up=True, log=_stderr_log):
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.state = os.path.abspath(state_dir).rstrip("/") or "/"
        self.env_file = os.path.join(self.state, "env")
        self.cred_file = os.path.join(self.state, "credentials")
        self.secret_key = os.path.join(self.state, "secret.key")
        self.sanitizer_dir = os.path.join(self.state, "sanitizer")
        previous = read_kv(self.env_file)
        s = Settings(self.environ, previous, for_up)
        self.build = os.path.abspath(build_dir or self.environ.get("WEBHOOK_BUILD_DIR")
                                     or os.path.join(REPO, "build"))
        self.http_port = int(s.get("WEBHOOK_HTTP_PORT", DEFAULT_HTTP_PORT))
        self.db_port = int(s.get("WEBHOOK_DB_PORT", DEFAULT_DB_PORT))
        self.retry_schedule = s.get("WEBHOOK_RETRY_SCHEDULE", "5m,15m,1h,24h")
        self.poll_interval_ms = s.get("WEBHOOK_POLL_INTERVAL_MS", "250")
        self.request_timeout_ms = s.get("WEBHOOK_REQUEST_TIMEOUT_MS", "")
        self.worker_log_level = s.get("WEBHOOK_WORKER_LOG_LEVEL", "info")
        self.wakeup_port = s.get("WEBHOOK_WAKEUP_PORT", "auto")
        self.worker_metrics_port = s.get("WEBHOOK_WORKER_METRICS_PORT", "auto")
        # commas in the env file (a KEY=value line with no spaces, so `eval "$(scripts/stack env)"` works)
        allow = s.get("WEBHOOK_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8,::1/128")
        self.allow_private_targets = ",".join(p for p in allow.replace(" ", ",").split(",") if p)
        self.module_so = os.path.join(self.build, "mod_webhook", "mod_webhook.so")
        self.worker_bin = os.path.join(self.build, "worker", "webhook-worker")
        self.base_url = "http://127.0.0.1:%d/webhooks/v1" % self.http_port
        self.db_password = self.api_password = self.db_root_password = ""
        self.htpasswd = os.path.join(self.state, "httpd", "htpasswd")
        self.load_credentials()
        self.preload = self.environ.get("WEBHOOK_SANITIZE_PRELOAD") or "auto"
        self.db_node_count = self.node_count(s.get("WEBHOOK_DB_NODES", "1"))
        self.db_ports, self.galera_ports = self.cluster_ports(previous)
        self.nodes = self.make_nodes(previous)
        self.db = self.nodes[0]  # the plain server, or node 1: the stack's socket and dumps
        self.httpd = Httpd(os.path.join(self.state, "httpd"), self.http_port, self.module_so,
                           self.environ.get("WEBHOOK_APACHE_BIN") or "/usr/sbin/apache2", environ=self.environ,
                           log=log, sanitizer_dir=self.sanitizer_dir, sanitizer_preload=self.preload)
        self.worker = Worker(os.path.join(self.state, "worker"), self.worker_bin, environ=self.environ, log=log,
                             sanitizer_env_fn=lambda: sanitizer_env(self.module_so, self.sanitizer_dir, "worker",
                                                                    self.preload))

    # -- credentials: they survive restarts (the data dir keeps the users they were made with)

    def load_credentials(self):
        c = read_kv(self.cred_file)
        self.db_password = c.get("DB_PASSWORD", "")
        self.api_password = c.get("API_PASSWORD", "")
        self.db_root_password = c.get("DB_ROOT_PASSWORD", "")
        self.htpasswd = c.get("HTPASSWD") or self.htpasswd

    def save_credentials(self):
        write_private(self.cred_file, "DB_PASSWORD=%s\nDB_ROOT_PASSWORD=%s\nAPI_PASSWORD=%s\nHTPASSWD=%s\n" % (
            self.db_password, self.db_root_password, self.api_password, self.htpasswd))

    # -- the database servers: one plain MariaDB, or the nodes of a Galera cluster

    @staticmethod
    def node_count(text):
        if not text.isdigit() or not 1 <= int(text) <= 9:
            raise StackError("WEBHOOK_DB_NODES: expected 1 (one MariaDB) to 9 (Galera nodes), got '%s'" % text)
        return int(text)

    def cluster_ports(self, previous):
        """([SQL port of each node], [(gcomm, IST, SST) ports of each node]): those of the env
        file, and free ones for nodes it does not list yet. Node 1's SQL port is
        WEBHOOK_DB_PORT; a single server has no Galera ports."""
        n = self.db_node_count
        if n == 1:
            return [self.db_port], []
        sql_ports = [int(p) for p in previous.get("WEBHOOK_DB_PORTS", "").split(",")[1:n] if p]
        galera = [tuple(int(p) for p in g.split(":"))
                  for g in previous.get("WEBHOOK_DB_GALERA_PORTS", "").split(",")[:n] if g]
        taken = [self.http_port, self.db_port] + sql_ports + [p for g in galera for p in g]
        if self.worker_metrics_port.isdigit():
            taken.append(int(self.worker_metrics_port))
        fresh = free_ports((n - 1 - len(sql_ports)) + 3 * (n - len(galera)), avoid=taken)
        sql_ports += [fresh.pop() for _ in range(n - 1 - len(sql_ports))]
        galera += [(fresh.pop(), fresh.pop(), fresh.pop()) for _ in range(n - len(galera))]
        return [self.db_port] + sql_ports, galera

    def make_nodes(self, previous):
        """The MariaDB objects: state/mariadb (the plain server, or node 1), state/mariadb-nodeN."""
        extra = self.environ.get("WEBHOOK_DB_EXTRA_ARGS", "").split()
        db_dir = os.path.join(self.state, "mariadb")
        sock = previous.get("WEBHOOK_DB_SOCKET") or MariaDB.default_socket(db_dir)
        if self.db_node_count == 1:
            nodes = [MariaDB(db_dir, self.db_port, sock, extra, environ=self.environ, log=self.log)]
        else:
            gcomm = [g[0] for g in self.galera_ports]
            dirs = [db_dir] + [os.path.join(self.state, "mariadb-node%d" % i)
                               for i in range(2, self.db_node_count + 1)]
            nodes = [GaleraNode(i + 1, d, self.db_ports[i], self.galera_ports[i], gcomm,
                                sock if i == 0 else None, extra, environ=self.environ, log=self.log)
                     for i, d in enumerate(dirs)]
        for node in nodes:
            node.root_password = self.db_root_password
        return nodes

    def node(self, number):
        """The database server `number` (from 1; the plain server is node 1)."""
        if not 1 <= number <= len(self.nodes):
            raise StackError("no database node %d: the stack has %d (WEBHOOK_DB_NODES)" % (number, len(self.nodes)))
        return self.nodes[number - 1]

    def start_node(self, number):
        """Starts a stopped node; a Galera node rejoins the nodes that run and is Synced on
        return. The plain server, or a Galera node 1 that bootstrapped the cluster: True if
        its data dir is new."""
        node = self.node(number)
        peers = [n for n in self.nodes if n is not node and n.pid()]
        if number != 1 and not peers:
            raise StackError("no node of the cluster runs: start node 1 first (it bootstraps the cluster)")
        return node.start_member(peers)

    def db_spec(self, order=None):
        """The database setting of Apache and the worker: every node, node 1 first (order:
        other node numbers, e.g. [2, 3, 1])."""
        return db_spec(self.db_ports, self.db_password, order)

    def sql(self, query, check=True, node=1, root=False):
        """query as the application user (or root) over the socket of a node (the plain server
        is node 1); rows of str (NULL -> None)."""
        if root:
            return self.node(node).run_sql(query, check=check)
        return self.node(node).run_sql(query, DB_USER, self.db_password, DB_NAME, check=check)

    def client_argv(self, *args):
        """The mariadb client as the application user on the stack's database (MYSQL_PWD:
        client_env())."""
        return self.db.client_argv(DB_USER, DB_NAME, args)

    def client_env(self):
        return dict(self.environ, MYSQL_PWD=self.db_password)

    def exists(self):
        return os.path.isfile(self.env_file)

    # -- ports

    def resolve_ports(self):
        """"auto" ports become free ones (then kept in the env file, so restarts reuse them)."""
        if self.wakeup_port == "auto":
            self.wakeup_port = str(free_port(socket.SOCK_DGRAM))
        if self.worker_metrics_port == "auto":
            taken = [self.http_port] + self.db_ports + [p for g in self.galera_ports for p in g]
            self.worker_metrics_port = str(free_port(avoid=taken))

    # -- the steps of up

    def start_database(self):
        """Starts the server, or the cluster: node 1 first (on a new cluster it makes the
        database and its users, which the others receive by state transfer), then the other
        nodes together (their state transfers overlap)."""
        if self.start_node(1):
            self.db_password, self.db_root_password = random_hex(16), random_hex(16)
            self.save_credentials()
            self.db.create_database(DB_NAME, DB_USER, self.db_password, self.db_root_password)
            self.db.mark_initialized()
            for n in self.nodes:
                n.root_password = self.db_root_password
        self.log("%s up (pid %s)" % (self.db.name, self.db.pid()))
        errors = []

        def join(number):
            try:
                self.start_node(number)
            except StackError as e:
                errors.append(e)
        threads = [threading.Thread(target=join, args=(n.number,)) for n in self.nodes[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.load_credentials()
        if not self.db_password:
            raise StackError("%s has no DB password; remove %s to start afresh" % (self.cred_file, self.state))

    def ensure_secret_key(self):
        if not os.path.isfile(self.secret_key) or os.path.getsize(self.secret_key) == 0:
            write_private(self.secret_key, random_hex(32), 0o640)
            self.log("generated %s" % self.secret_key)
        os.chmod(self.secret_key, 0o640)

    def run_migrations(self):
        if not os.access(self.worker_bin, os.X_OK):
            raise StackError("worker binary not found: %s (build first, or unset WEBHOOK_SKIP_BUILD)" % self.worker_bin)
        sql_dir = os.path.join(REPO, "sql")
        self.log("applying migrations from %s" % sql_dir)
        migrate_log = os.path.join(self.state, "migrate.log")
        # with the key file, migrate also re-seals credentials an older release sealed as v1
        with open(migrate_log, "w") as out:
            # through node 1 alone: once for the cluster
            rc = subprocess.run([self.worker_bin, "migrate", "--database", self.db_spec([1]), "--sql-dir", sql_dir,
                                 "--secret-key-file", self.secret_key], stdout=out, stderr=subprocess.STDOUT,
                                env=self.environ).returncode
        with open(migrate_log, errors="replace") as f:
            text = f.read()
        if rc != 0:
            raise StackError("webhook-worker migrate failed\n" + text)
        for line in text.splitlines():
            self.log_raw("[migrate] " + line)
        n = int(self.sql("SELECT COUNT(*) FROM webhook_event_types")[0][0])
        if n < MIN_EVENT_TYPES:
            raise StackError("migrations ran but webhook_event_types has %d rows (expected %d)" % (n, MIN_EVENT_TYPES))

    def log_raw(self, line):
        if self.log is _stderr_log:
            print(line, file=sys.stderr, flush=True)
        else:
            self.log(line)

    def choose_htpasswd_location(self):
        """The Apache children (User nobody when root) read AuthUserFile on every request; the
        state dir may sit below a directory they cannot traverse (e.g. a repo under /root)."""
        if os.path.isfile(self.cred_file) and self.htpasswd and os.path.isfile(self.htpasswd):
            return
        self.htpasswd = os.path.join(self.state, "httpd", "htpasswd")
        if os.getuid() == 0:
            open(self.htpasswd, "a").close()
            os.chmod(self.htpasswd, 0o644)
            readable = subprocess.run(["runuser", "-u", "nobody", "--", "test", "-r", self.htpasswd],
                                      stderr=subprocess.DEVNULL).returncode == 0
            if not readable:
                alt = "/tmp/mod_webhook-htpasswd-%s" % short_hash(self.state)
                os.makedirs(alt, exist_ok=True)
                os.chmod(alt, 0o755)
                os.unlink(self.htpasswd)
                self.htpasswd = os.path.join(alt, "htpasswd")
                self.log("user nobody cannot read files below %s; using %s for Apache logins"
                         % (self.state, self.htpasswd))
        self.save_credentials()

    def htpasswd_set(self, user, password):
        create = [] if os.path.isfile(self.htpasswd) and os.path.getsize(self.htpasswd) else ["-c"]
        p = subprocess.run(["htpasswd", "-B", "-i"] + create + [self.htpasswd, user], input=password + "\n",
                           text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode != 0:
            raise StackError("htpasswd failed for user %s" % user)
        if os.getuid() == 0:
            subprocess.run(["chgrp", "nogroup", self.htpasswd], stderr=subprocess.DEVNULL)
            os.chmod(self.htpasswd, 0o640)

    def ensure_admin_login(self):
        try:
            with open(self.htpasswd) as f:
                known = any(line.startswith(API_USER + ":") for line in f)
        except OSError:
            known = False
        if not self.api_password or not known:
            self.api_password = self.api_password or random_hex(12)
            self.save_credentials()
            self.htpasswd_set(API_USER, self.api_password)
            self.log("created Apache login '%s'" % API_USER)
        self.sql("INSERT IGNORE INTO webhook_principals (username, kind, scope_id) VALUES ('%s','admin','')" % API_USER)

    def configure_httpd(self):
        run_user, run_group = "# User: unchanged (not started as root)", "# Group: unchanged"
        if os.getuid() == 0:
            run_user, run_group = "User nobody", "Group nogroup"
        try:
            modules = subprocess.run(["apxs", "-q", "LIBEXECDIR"], capture_output=True, text=True).stdout.strip()
        except OSError:
            modules = ""
        extra = "# (no WEBHOOK_HTTPD_EXTRA_CONF)"
        extra_conf = self.environ.get("WEBHOOK_HTTPD_EXTRA_CONF")
        if extra_conf:
            if not os.path.isfile(extra_conf):
                raise StackError("WEBHOOK_HTTPD_EXTRA_CONF: no file %s" % extra_conf)
            extra = 'Include "%s"' % os.path.abspath(extra_conf)
        notify = "WebhookNotifyWorker Off" if self.wakeup_port == "off" else \
            "WebhookNotifyWorker 127.0.0.1:%s" % self.wakeup_port
        self.httpd.values = {
            "APACHE_MODULES": modules or "/usr/lib/apache2/modules", "DB_SPEC": self.db_spec(),
            "SECRET_KEY_FILE": self.secret_key, "HTPASSWD": self.htpasswd, "RUN_USER": run_user,
            "RUN_GROUP": run_group, "LOG_LEVEL": self.environ.get("WEBHOOK_HTTPD_LOG_LEVEL") or "warn",
            "NOTIFY_WORKER": notify, "EXTRA_CONF": extra, "PORTAL_DIR": os.path.join(REPO, "portal"), "ALLOW_PRIVATE": self.allow_private_targets.replace(",", " ")}
        self.httpd.probe = (self.base_url + "/event-types", API_USER, self.api_password)

    def configure_worker(self):
        w = [("database", self.db_spec()), ("secret_key_file", self.secret_key),
             ("retry_schedule", self.retry_schedule), ("allow_private_targets", "127.0.0.0/8 ::1/128"),
             ("poll_interval_ms", self.poll_interval_ms), ("log_level", self.worker_log_level)]
        if self.request_timeout_ms:
            w.append(("request_timeout_ms", self.request_timeout_ms))
        if self.wakeup_port != "off":
            w.append(("wakeup_listen", "127.0.0.1:%s" % self.wakeup_port))
        if self.worker_metrics_port not in ("off", "auto"):
            w.append(("metrics_listen", "127.0.0.1:%s" % self.worker_metrics_port))
        self.worker.settings = w

    def env_values(self):
        """The env file's KEY=value pairs, in order."""
        v = [("WEBHOOK_BASE_URL", self.base_url), ("WEBHOOK_EVENTS_URL", self.base_url + "/events"),
             ("WEBHOOK_API_USER", API_USER), ("WEBHOOK_API_PASSWORD", self.api_password),
             ("WEBHOOK_DB_SOCKET", self.db.socket), ("WEBHOOK_DB_HOST", "127.0.0.1"),
             ("WEBHOOK_DB_PORT", str(self.db_port)), ("WEBHOOK_DB_USER", DB_USER),
             ("WEBHOOK_DB_PASSWORD", self.db_password), ("WEBHOOK_DB_NAME", DB_NAME),
             ("WEBHOOK_STATE_DIR", self.state), ("WEBHOOK_HTTPD_ERROR_LOG", self.httpd.error_log),
             ("WEBHOOK_WORKER_LOG", self.worker.log_path), ("WEBHOOK_MARIADB_LOG", self.db.log_path),
             ("WEBHOOK_HTTP_PORT", str(self.http_port)), ("WEBHOOK_SECRET_KEY_FILE", self.secret_key),
             ("WEBHOOK_HTPASSWD", self.htpasswd), ("WEBHOOK_BUILD_DIR", self.build),
             ("WEBHOOK_RETRY_SCHEDULE", self.retry_schedule), ("WEBHOOK_POLL_INTERVAL_MS", self.poll_interval_ms),
             ("WEBHOOK_WORKER_LOG_LEVEL", self.worker_log_level), ("WEBHOOK_WAKEUP_PORT", self.wakeup_port),
             ("WEBHOOK_ALLOW_PRIVATE_TARGETS", self.allow_private_targets),
             ("WEBHOOK_METRICS_URL", "http://127.0.0.1:%d/webhook-metrics" % self.http_port),
             ("WEBHOOK_PORTAL_URL", "http://127.0.0.1:%d/webhooks/portal/" % self.http_port),
             ("WEBHOOK_WORKER_METRICS_PORT", self.worker_metrics_port), ("WEBHOOK_DB_NODES", str(len(self.nodes)))]
        if len(self.nodes) > 1:
            v += [("WEBHOOK_DB_PORTS", ",".join(str(p) for p in self.db_ports)),
                  ("WEBHOOK_DB_GALERA_PORTS", ",".join("%d:%d:%d" % g for g in self.galera_ports)),
                  ("WEBHOOK_DB_SOCKETS", ",".join(n.socket for n in self.nodes))]
        if self.worker_metrics_port not in ("off", "auto"):
            v.append(("WEBHOOK_WORKER_METRICS_URL", "http://127.0.0.1:%s/metrics" % self.worker_metrics_port))
        if self.request_timeout_ms:
            v.append(("WEBHOOK_REQUEST_TIMEOUT_MS", self.request_timeout_ms))
        return v

    def write_env_file(self):
        write_private(self.env_file, "".join("%s=%s\n" % kv for kv in self.env_values()))

    # -- commands

    def prepare(self):
        """Installs missing Debian packages and builds (scripts/lib.sh), unless
        WEBHOOK_SKIP_INSTALL=1 / WEBHOOK_SKIP_BUILD=1."""
        lib = os.path.join(REPO, "scripts", "lib.sh")
        rc = subprocess.run(["bash", "-c", 'set -euo pipefail; source "$1"; wh_install_packages; wh_build "$2" "$3"',
                             "stack-prepare", lib, REPO, self.build], env=self.environ).returncode
        if rc != 0:
            raise StackError("installing packages or building failed (status %d)" % rc)

    def up(self, start_worker=None):
        """Starts whatever is not running (MariaDB, migrations, logins, Apache, worker) and
        writes the env file. start_worker: default WEBHOOK_START_WORKER (1)."""
        if not os.path.isfile(self.module_so):
            raise StackError("module not built: %s" % self.module_so)
        if not os.access(self.worker_bin, os.X_OK):
            raise StackError("worker not built: %s" % self.worker_bin)
        for d in (self.state, self.httpd.dir, os.path.join(self.httpd.dir, "run"),
                  os.path.join(self.httpd.dir, "logs"), self.worker.dir):
            os.makedirs(d, exist_ok=True)
        for d in (self.state, self.httpd.dir, os.path.join(self.httpd.dir, "run")):
            os.chmod(d, 0o755)
        self.resolve_ports()
        self.start_database()
        self.write_env_file()
        self.ensure_secret_key()
        self.run_migrations()
        self.choose_htpasswd_location()
        self.ensure_admin_login()
        # the env file exists from here on, so `down` can clean up a half-started stack
        self.write_env_file()
        self.configure_httpd()
        self.httpd.start()
        self.configure_worker()
        if start_worker is None:
            start_worker = self.environ.get("WEBHOOK_START_WORKER", "1") != "0"
        if start_worker:
            self.worker.start()
        else:
            self.worker.write_conf()
            self.log("worker not started (WEBHOOK_START_WORKER=0); its config: %s" % self.worker.conf)
        self.write_env_file()
        self.log("stack up; state in %s" % self.state)
        return self.base_url

    def down(self):
        """Stops worker, Apache, MariaDB (waits for each). False if one had to be killed."""
        if not os.path.isdir(self.state):
            self.log("no stack in %s" % self.state)
            return True
        ok = True
        # node 1 last: the last node to leave may bootstrap the cluster again
        for stop in [self.worker.stop, self.httpd.stop] + [n.stop for n in reversed(self.nodes)]:
            try:
                ok = stop() and ok
            except StackError as e:
                self.log("error: %s" % e)
                ok = False
        return ok

    def status(self):
        """[(component, state, pid, detail)] and whether every component is up and answers."""
        rows, good = [], True
        for node in self.nodes:
            row, healthy = self.node_status(node)
            rows.append(row)
            good = good and healthy
        pid = self.httpd.pid()
        self.httpd.probe = (self.base_url + "/event-types", API_USER, self.api_password)
        if pid:
            code = "%03d" % self.httpd.answer()
            what = "answers" if code == "200" else "BAD ANSWER"
            good = good and code == "200"
            rows.append(("apache", "running", pid, "%s: GET %s/event-types -> HTTP %s" % (what, self.base_url, code)))
        else:
            rows.append(("apache", "down", "-", "see %s" % self.httpd.error_log))
            good = False
        pid = self.worker.pid()
        if pid:
            rows.append(("worker", "running", pid, "log %s" % self.worker.log_path))
        else:
            rows.append(("worker", "down", "-", "see %s" % self.worker.log_path))
            good = False
        return rows, good

    def node_status(self, node):
        """((component, state, pid, detail), healthy) of a database server: healthy when it
        answers, and for a Galera node when it is Synced (its state and its cluster's status
        and size are in the detail)."""
        name = "mariadb" if len(self.nodes) == 1 else "node%d" % node.number
        pid = node.pid()
        if not pid:
            return (name, "down", "-", "see %s" % node.log_path), False
        if not node.ping():
            return (name, "running", pid, "NOT ANSWERING on %s" % node.socket), False
        where = "127.0.0.1:%d and %s" % (node.port, node.socket)
        if len(self.nodes) == 1:
            return (name, "running", pid, "answers on " + where), True
        st = node.wsrep_status()
        state = st.get("wsrep_local_state_comment", "?")
        detail = "%s (cluster %s, size %s) on %s" % (state, st.get("wsrep_cluster_status", "?"),
                                                      st.get("wsrep_cluster_size", "?"), where)
        synced = state == "Synced"
        return (name, "running" if synced else "degraded", pid, detail), synced

    def dump(self, path):
        """mariadb-dump of the stack's database into path (mode 0600); the tool's status."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            return subprocess.run(["mariadb-dump", "--no-defaults", "--socket=" + self.db.socket, "--user=" + DB_USER,
                                   "--single-transaction", "--skip-extended-insert", "--no-tablespaces", DB_NAME],
                                  stdout=out, env=self.client_env()).returncode

    def add_principal(self, user, password, kind, scope=""):
        """An Apache login mapped to a scope (kind admin, reseller or portfolio)."""
        check_principal(user, password, kind, scope)
        self.htpasswd_set(user, password)
        # the production command (webhook-worker principal add), so the stack exercises it
        scope_flags = ["--admin"] if kind == "admin" else ["--" + kind, scope]
        p = subprocess.run([self.worker_bin, "principal", "add", user] + scope_flags + ["--database", self.db_spec()],
                           capture_output=True, text=True, env=self.environ, timeout=60)
        if p.returncode != 0:
            raise StackError("webhook-worker principal add failed: " + (p.stderr or p.stdout).strip())
        self.log("principal %s -> %s%s" % (user, kind, " " + scope if scope else ""))


def db_spec(ports, password, order=None):
    """The database setting (WebhookDatabase, the worker's `database`) for the application's
    database on the servers at 127.0.0.1:ports (node numbers from 1). order: the node numbers
    to list, in the order connections try them (default: all, node 1 first); one node gives
    the single-host form."""
    order = list(order or range(1, len(ports) + 1))
    for n in order:
        if not 1 <= n <= len(ports):
            raise StackError("no database node %d (there are %d)" % (n, len(ports)))
    if len(order) == 1:
        host = "host=127.0.0.1 port=%d" % ports[order[0] - 1]
    else:
        host = "host=" + ",".join("127.0.0.1:%d" % ports[n - 1] for n in order)
    return "%s user=%s password=%s database=%s connect_timeout=2" % (host, DB_USER, password, DB_NAME)


def principal_scope(flags):
    """(kind, scope ID) of `scripts/stack principal add`'s scope flags: ("--reseller", ID),
    ("--portfolio", ID) or ("--admin",)."""
    flag = flags[0] if flags else ""
    if flag == "--admin":
        if len(flags) != 1:
            raise StackError("--admin takes no ID")
        return "admin", ""
    if flag in ("--reseller", "--portfolio"):
        return flag[2:], flags[1] if len(flags) > 1 else ""
    raise StackError("expected --reseller ID, --portfolio ID or --admin, got '%s'" % flag)


def check_principal(user, password, kind, scope):
    """StackError unless these make a login the API can map (user names and IDs as the
    API accepts them)."""
    if kind not in ("admin", "reseller", "portfolio"):
        raise StackError("expected --reseller ID, --portfolio ID or --admin, got '%s'" % kind)
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,255}", user):
        raise StackError("user names are 1-255 characters [A-Za-z0-9._@-]")
    if not password:
        raise StackError("empty password")
    if kind != "admin" and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", scope):
        raise StackError("IDs are 1-64 characters [A-Za-z0-9._-]")


def main(argv):
    """Internal entry points: `supervise-worker BIN CONF PIDFILE DIR [VAR=value…]` (the
    worker's supervisor) and `free-ports [N]` (N free TCP ports on 127.0.0.1, one a line)."""
    if argv[:1] == ["supervise-worker"] and len(argv) >= 5:
        supervise_worker(argv[1], argv[2], argv[3], argv[4], argv[5:])
        return 0
    if argv[:1] == ["free-ports"]:
        print("\n".join(str(p) for p in free_ports(int(argv[1]) if len(argv) > 1 else 1)))
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
