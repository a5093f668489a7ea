#!/usr/bin/env python3
"""Runs Ansible's own integration targets (ansible-core 2.19.14) against tutti.

The targets are GPL-3.0 and are downloaded into a git-ignored cache, never
copied into the repository. Role targets get the one-play playbook
ansible-test would write; script targets (runme.sh) run with `ansible` and
`ansible-playbook` on PATH resolving to the binary under test.

Each target's verdict is the task it stops at: none (it passed) or the
first task that failed unrescued. `expected-failures.tsv` lists the known
stops with a reason; a new failure or an unexpected pass fails the run, so
the list only shrinks. `--ansible` runs the same harness with ansible-core
itself, which must pass every target (the harness's own validation).
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = HERE / ".cache"
VERSION = "2.19.14"
SRC = CACHE / f"ansible_core-{VERSION}"
SRC_INTEGRATION = SRC / "test" / "integration"
# Where targets run: a fresh copy per harness run (set in main), so what a
# stopped target leaves behind in its own files cannot affect the next run.
INTEGRATION = SRC_INTEGRATION
TARGETS_DIR = INTEGRATION / "targets"
EXPECTED = HERE / "expected-failures.tsv"

TARGETS = [
    "stat", "replace", "blockinfile", "lineinfile", "command_shell", "file",
    "copy", "template", "loops", "until", "conditionals", "blocks",
    "handlers", "check_mode", "include_import", "tags",
]
NAMES = ["ansible", "ansible-playbook", "ansible-inventory", "ansible-galaxy", "ansible-config",
         "ansible-vault"]
TIMEOUT = 900

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
FATAL = re.compile(r"^(?:fatal|failed): \[[^\]]+\]")


MODULE_UTILS = SRC / "lib" / "ansible" / "module_utils"


def fetch():
    """Downloads and unpacks the sdist's integration targets and its
    `module_utils` (what custom Python modules import, which tutti ships
    to the target as ansible-core does), once."""
    if (SRC_INTEGRATION / "targets").is_dir() and MODULE_UTILS.is_dir():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"ansible_core-{VERSION}.tar.gz"
    if not tarball.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "--no-binary", ":all:", f"ansible-core=={VERSION}", "-d", str(CACHE)],
            check=True)
    prefixes = (f"ansible_core-{VERSION}/test/integration/targets/",
                f"ansible_core-{VERSION}/lib/ansible/module_utils/")
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefixes)]
        tar.extractall(CACHE, members=members, filter="tar")


def ansible_bin():
    """A virtualenv with ansible-core itself, for validating the harness.
    It is built on the system Python: one under /root would vanish where
    the targets run (see `private_root`)."""
    venv = CACHE / "venv"
    base = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    cfg = venv / "pyvenv.cfg"
    if cfg.exists() and "home = /root" in cfg.read_text():
        shutil.rmtree(venv)
    if not (venv / "bin" / "ansible-playbook").exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                        f"ansible-core=={VERSION}"], check=True)
    return venv / "bin"


def tutti_bin(work):
    """A directory where every Ansible command name is the tutti binary."""
    exe = os.environ.get("TUTTI_BIN")
    if not exe:
        subprocess.run(["cargo", "build", "-q", "--bin", "tutti"], cwd=REPO,
                       check=True)
        exe = str(REPO / "target" / "debug" / "tutti")
    bindir = work / "bin"
    bindir.mkdir()
    # A copy beside the names: the binary may live in a /tmp that targets
    # do not see (see `private_root`).
    shutil.copy2(exe, bindir / "tutti")
    for name in NAMES:
        (bindir / name).symlink_to(bindir / "tutti")
    # runme.sh scripts call `python`, as ansible-test's environment has it;
    # the system one, which stays visible where targets run.
    system_python = Path("/usr/bin/python3")
    if system_python.exists():
        for name in ("python", "python3"):
            (bindir / name).symlink_to(system_python)
    return bindir


SSH_ADDR = "127.0.0.2"


def can_private_root():
    """Whether targets can run in a mount namespace of their own (as root
    with unshare), where /root is the target's throwaway home, /tmp its
    own empty directory and /home an empty tmpfs, as in the fresh
    container ansible-test gives a target."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         "mount -t tmpfs none /mnt && umount /mnt"],
        capture_output=True, check=False)
    return probe.returncode == 0


PRIVATE_ROOT = None


def use_private_root():
    global PRIVATE_ROOT
    if PRIVATE_ROOT is None:
        PRIVATE_ROOT = can_private_root()
    return PRIVATE_ROOT


def private_root(out_dir, cmd):
    """`cmd` in a mount namespace where /root is the target's `home`, /tmp
    its `tmp` (shared by the target's sshd and its controller side) and
    /home is empty (when the machine allows it; else `cmd` as it is)."""
    if not use_private_root():
        return cmd
    # The harness's own files (this directory: the cache, the runs, the
    # stand-in roles) stay visible when the checkout itself is under /tmp:
    # a descriptor opened before /tmp is replaced is mounted back in place
    # (`-c`: mount must not resolve the path again through the new /tmp).
    keep = ""
    if HERE.resolve().is_relative_to("/tmp"):
        keep = ('mkdir -p "$k" && mount -c --bind /proc/self/fd/3 "$k" && exec 3<&- && ')
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'h=$1; t=$2; k=$3; shift 3; exec 3<"$k" && mount --bind "$h" /root && '
            'mount --bind "$t" /tmp && ' + keep +
            'mount -t tmpfs none /home && exec "$@"',
            "sh", str(out_dir / "home"), str(out_dir / "tmp"), str(HERE.resolve())] + cmd


class Sshd:
    """A throwaway OpenSSH server on loopback that the remote targets reach
    as root with a fresh key; each session's HOME is the target's own
    throwaway home (sshd's SetEnv), as a fresh test container's would be."""

    def __init__(self, work):
        self.dir = work / "sshd"
        self.dir.mkdir()
        self.host_key = self.dir / "host_key"
        self.client_key = self.dir / "client_key"
        for key in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(key)], check=True)
        (self.dir / "authorized_keys").write_text(
            (self.dir / "client_key.pub").read_text())
        self.host_pub = (self.dir / "host_key.pub").read_text().split()[:2]
        self.proc = None
        self.port = None
        Path("/run/sshd").mkdir(exist_ok=True)

    def start(self, out_dir):
        """(Re)starts sshd with sessions' HOME at the target's home."""
        home = out_dir / "home"
        self.stop()
        with socket.socket() as s:
            s.bind((SSH_ADDR, 0))
            self.port = s.getsockname()[1]
        sftp = "/usr/lib/openssh/sftp-server"
        sftp = sftp if Path(sftp).exists() else "internal-sftp"
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {SSH_ADDR}",
            f"HostKey {self.host_key}", f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "StrictModes no", "UsePAM no", "PermitRootLogin yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "MaxSessions 100", "MaxStartups 100",
            f"SetEnv HOME={'/root' if use_private_root() else home}",
            # Sessions start in that home too (sshd would chdir to /root),
            # so relative paths land in the throwaway directory.
            f"ForceCommand {self.force_command(sftp)}",
            f"Subsystem sftp {sftp}", "PrintMotd no", "UseDNS no",
            "AcceptEnv LANG LC_*", ""]))
        self.proc = subprocess.Popen(
            private_root(out_dir, ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)]),
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "sshd.log", "a"))
        for _ in range(100):
            try:
                socket.create_connection((SSH_ADDR, self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        (home / ".ssh").mkdir(parents=True, exist_ok=True)
        with open(home / ".ssh" / "known_hosts", "a") as f:
            f.write(f"[{SSH_ADDR}]:{self.port} {' '.join(self.host_pub)}\n")

    @staticmethod
    def force_command(sftp):
        server = sftp if sftp != "internal-sftp" else "/usr/lib/openssh/sftp-server"
        return ('cd "$HOME" || exit 1; case "$SSH_ORIGINAL_COMMAND" in '
                f'"") exec /bin/sh -l ;; sftp|internal-sftp|*/sftp-server) exec {server} ;; '
                '*) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;; esac')

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


def write_inventory(sshd=None):
    """The inventory ansible-test gives a target: `testhost` over SSH as
    root on loopback for remote targets, the local connection for
    `context/controller` ones."""
    inv = INTEGRATION / ("inventory" if sshd is None else "inventory.ssh")
    # The system interpreter: targets become `nobody`, who cannot reach a
    # Python under /root.
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    if sshd is None:
        conn = "ansible_connection=local ansible_pipelining=yes"
    else:
        conn = (f"ansible_host={SSH_ADDR} ansible_port={sshd.port} ansible_user=root "
                f"ansible_ssh_private_key_file={sshd.client_key} ansible_pipelining=yes")
    inv.write_text(f"[testgroup]\ntesthost {conn} ansible_python_interpreter={python}\n")
    return inv


def aliases(target):
    path = TARGETS_DIR / target / "aliases"
    return path.read_text().split() if path.exists() else []


def run_target(target, bindir, sshd, work, steps=()):
    """Runs one target; returns (exit code, output, seconds, and for each
    skipped step whether it still fails on its own)."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"{target}-", dir=work))
    # A throwaway home, as a fresh test container has: targets copy
    # ~/.ssh/authorized_keys and write under ~.
    out_dir.chmod(0o755)
    home = out_dir / "home"
    (home / ".ssh").mkdir(parents=True)
    (out_dir / "tmp").mkdir()
    (out_dir / "tmp").chmod(0o1777)
    (home / ".ssh" / "authorized_keys").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZfbMlrLwKlzqZeDmTOfAUozhwh38pjb+1cS2CaShnX conformance\n")
    if "context/controller" in aliases(target):
        inventory = write_inventory()
    else:
        sshd.start(out_dir)
        inventory = write_inventory(sshd)
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("ANSIBLE_", "TUTTI_")):
            del env[key]
    env.update({
        "PATH": f"{bindir}:{env.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": f"{HERE / 'roles'}:{TARGETS_DIR}",
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "OUTPUT_DIR": str(out_dir),
        "HOME": "/root" if use_private_root() else str(home),
        "ANSIBLE_TEST_PREFER_PODMAN": "0",
        # The controller's ansible-core, for custom Python modules: here the
        # sdist's own copy (ansible-core itself ships it inside its modules).
        "TUTTI_MODULE_UTILS": str(MODULE_UTILS),
    })
    tdir = TARGETS_DIR / target
    skipped = []
    if (tdir / "runme.sh").exists():
        script = "runme.sh"
        if steps:
            script, skipped = script_without(tdir, steps)
        cmd = ["bash", script, "-v"]
        cwd = tdir
    else:
        play = work / f"{target}.yml"
        gather = "false" if "gather_facts/no" in aliases(target) else "true"
        play.write_text(
            f"- hosts: testhost\n  gather_facts: {gather}\n"
            f"  vars:\n    output_dir: {out_dir}\n  roles:\n    - {target}\n")
        cmd = ["ansible-playbook", "-i", str(inventory), str(play), "-v"]
        cwd = work
    start = time.monotonic()
    try:
        proc = subprocess.run(private_root(out_dir, cmd), cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=TIMEOUT, check=False)
        code, text = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        code = -1
        text = (e.stdout or b"").decode("utf-8", "replace") + "\n[harness] timed out\n"
    # Each skipped step must still fail on its own (so the list shrinks
    # when one is fixed).
    still_failing = []
    for line in skipped:
        proc = subprocess.run(private_root(out_dir, ["bash", "-c", line, "bash", "-v"]),
                              cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
        still_failing.append((line, proc.returncode != 0))
    return code, ANSI.sub("", text), time.monotonic() - start, still_failing


def accounts():
    """The local users and groups, to undo what a target adds."""
    def names(db):
        out = subprocess.run(["getent", db], capture_output=True, text=True, check=False)
        return {line.split(":", 1)[0] for line in out.stdout.splitlines() if line}
    return names("passwd"), names("group")


def remove_new_accounts(before):
    """Targets create users and groups that a stopped run never removes;
    a fresh test container would not keep them, so neither do we."""
    users, groups = accounts()
    for user in sorted(users - before[0]):
        subprocess.run(["userdel", "-r", user], capture_output=True, check=False)
    for group in sorted(groups - before[1]):
        subprocess.run(["groupdel", group], capture_output=True, check=False)


def tally(text):
    """Tasks run and the last task that failed without being ignored: when
    the run fails, that is where it stopped (earlier failures were rescued)."""
    tasks, current, last = 0, None, None
    for line in text.splitlines():
        m = TASK.match(line)
        if m:
            tasks += 1
            current = m.group(1)
        elif FATAL.match(line):
            last = current
        elif line.startswith("...ignoring") and last == current:
            last = None
    return tasks, last


def load_expected():
    """Per target: where it is known to stop (task, reason), and the
    runme.sh steps known to fail (`step: <line prefix>`), which are skipped
    so the rest of the script is still checked."""
    expected = {}
    if EXPECTED.exists():
        for line in EXPECTED.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                target, task, reason = (line.split("\t") + ["", ""])[:3]
                entry = expected.setdefault(target, {"stop": None, "steps": []})
                if task.startswith("step: "):
                    entry["steps"].append((task[len("step: "):], reason))
                else:
                    entry["stop"] = (task, reason)
    return expected


def script_without(tdir, steps):
    """A copy of runme.sh beside it with the known-failing steps replaced
    by a note; returns its name and the skipped lines."""
    lines, skipped = [], []
    for line in (tdir / "runme.sh").read_text().splitlines():
        if any(line.startswith(prefix) for prefix, _ in steps):
            skipped.append(line)
            lines.append(f"echo '[harness] skipped a known failure: {line[:60]}'")
        else:
            lines.append(line)
    name = ".runme-tutti.sh"
    (tdir / name).write_text("\n".join(lines) + "\n")
    return name, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ansible", action="store_true",
                    help="run ansible-core itself (validates the harness)")
    ap.add_argument("--targets", help="comma-separated subset")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--show", action="store_true",
                    help="print each failing target's output tail")
    args = ap.parse_args()
    fetch()
    targets = args.targets.split(",") if args.targets else TARGETS
    expected = {} if args.ansible else load_expected()
    # With private mounts /tmp is the target's own, so the harness's files
    # live in the (git-ignored) cache instead.
    runs = CACHE / "runs" if use_private_root() else None
    if runs:
        runs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tutti-conformance-", dir=runs))
    work.chmod(0o755)
    global INTEGRATION, TARGETS_DIR
    INTEGRATION = work / "integration"
    shutil.copytree(SRC_INTEGRATION, INTEGRATION, symlinks=True)
    TARGETS_DIR = INTEGRATION / "targets"
    bindir = ansible_bin() if args.ansible else tutti_bin(work)
    sshd = Sshd(work)
    problems = []
    print(f"{'target':16} {'tasks':>6} {'secs':>6}  verdict")
    for target in targets:
        before = accounts()
        want = expected.get(target, {"stop": None, "steps": []})
        try:
            code, text, secs, steps = run_target(target, bindir, sshd, work, want["steps"])
        finally:
            sshd.stop()
            remove_new_accounts(before)
        tasks, stop = tally(text)
        if code == 0:
            verdict = "pass"
        else:
            stop = stop or "(before any task)"
            verdict = f"stops at [{stop}] rc={code}"
        stop_want = want["stop"]
        if code == 0 and stop_want:
            problems.append(f"{target}: passes now; remove it from {EXPECTED.name}")
        elif code != 0 and (not stop_want or stop_want[0] != stop):
            problems.append(f"{target}: new failure at [{stop}]")
        elif stop_want:
            verdict += f" (expected: {stop_want[1]})"
        for line, failing in steps:
            if not failing:
                problems.append(f"{target}: step passes now; remove it from "
                                f"{EXPECTED.name}: {line}")
        if steps:
            verdict += f" ({len(steps)} known-failing step(s) skipped)"
        print(f"{target:16} {tasks:6} {secs:6.1f}  {verdict}", flush=True)
        if code != 0 and args.show:
            print("\n".join(text.splitlines()[-40:]))
        (work / f"{target}.log").write_text(text)
    print(f"\nlogs in {work}")
    for p in problems:
        print(f"[conformance] {p}")
    if not args.keep and not problems:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
