#!/usr/bin/env python3
"""Documentation is code: every shell block of the project's READMEs runs, or says why not.

    python3 xtask/doc-test.py [OPTIONS] [FILE.md ...]   # default: the five READMEs below
    python3 xtask/doc-test.py --list [FILE.md ...]      # the markers only: what would run, nothing run
    python3 xtask/doc-test.py --self-test               # the checker against its fixtures (xtask/doc-test/)

Each fenced block whose info string is sh, bash, shell or console is, by the line just before
it (blank lines and other one-line HTML comments, such as a walk-through's begin marker, may
come between):

    <!-- doc-test: skip: REASON -->    not run; the reason must say why (a real HSM, root on the
                                       machine, network, minutes of building, a step .ci/run has)
    <!-- doc-test: run-by: PATH -->    run by another test: PATH (from the repository's root) must
                                       exist and name this file (its path from the root, or from
                                       PATH's own directory), so the marker cannot point at nothing
    (no marker)                        run here

The blocks to run of one file run in order in one bash session under `set -euo pipefail`, as a
reader who pastes them one after the other: a variable an earlier block sets is there for the
later ones. The session starts in a fresh temporary directory, with HOME and TMPDIR inside it
(CARGO_HOME and RUSTUP_HOME stay where they are, and ~/.m2, ~/go and ~/.cache are linked from
the real HOME), standard input empty and no terminal, the workspace's wbgen, wbkms, wbdecrypt
and wbfingerprint first on PATH (links to them in a bin/ of that temporary directory), and none
of the toolkit's environment variables (WBGEN_PASSPHRASE and the others) unless a block sets
them. In a console block the commands are the lines after a `$ ` prompt
(with their continuation lines); the rest is output and is not compared.

A block that starts a server must stop it (`cmd &` ... `kill %1; wait`): a process still
running when the file's last block has ended is an error, naming the block that started it.
Each file has a time limit (--timeout). The run stops at the first failing block, naming its
file:line and showing its output. Markers are checked for every file before anything runs: a
skip without a reason, a run-by that names no file or a file that does not name this one, a
marker that applies to no shell block, an unclosed fence, and a listed file that does not
exist are errors.

Options:
    --release          run the release binaries (default: debug, as the walk-throughs)
    --no-build         do not run `cargo build` first (it is a no-op when they are fresh)
    --bin-dir DIR      take the four binaries from DIR instead of the workspace's (e.g. ~/.cargo/bin
                       after `cargo install`; nothing is built)
    --timeout SECONDS  the time limit per file (default 120)
    --keep             keep each file's temporary directory (its path is printed)

Python 3.9+ standard library only.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = [
    "README.md",
    "wbkms/README.md",
    "sdk/go/README.md",
    "sdk/java/README.md",
    "python/README.md",
]
SHELL_INFO = {"sh", "bash", "shell", "console"}
BINARIES = ["wbgen", "wbkms", "wbdecrypt", "wbfingerprint"]
# Built as the walk-throughs build them (the same packages: the same features, the same artifacts).
PACKAGES = ["wbkms", "wbgen", "wbdecrypt", "wbfingerprint"]
# What a reader's shell would not have set, and what would change what the tools do.
CLEARED_PREFIXES = ("WBGEN_", "WBKMS_", "WBRUNTIME_", "WBSTORE_", "TENCENTCLOUD_")
CLEARED = {"SOFTHSM2_CONF"}
# Caches a block's tools may use, linked into the temporary HOME so nothing is fetched again.
HOME_CACHES = [".m2", "go", ".cache"]
OUTPUT_LINES = 200  # of a failing block's output, the last ones shown

OPEN_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
MARKER = re.compile(r"^\s*<!--\s*doc-test:(.*?)-->\s*$")
COMMENT = re.compile(r"^\s*<!--.*-->\s*$")


@dataclass
class Block:
    path: str  # the markdown file, from the repository's root
    line: int  # the opening fence's line, from 1
    info: str
    body: List[str]
    action: str = "run"  # run, skip or run-by
    detail: str = ""  # the reason, or the path
    commands: List[str] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def parse(path: str, text: str):
    """The shell blocks of one markdown file, and the errors in its markers."""
    lines = text.split("\n")
    blocks: List[Block] = []
    errors: List[str] = []
    used_markers = set()
    fenced = set()  # lines inside fences: a marker shown in a code sample is not a marker
    i = 0
    while i < len(lines):
        m = OPEN_FENCE.match(lines[i])
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            errors.append(f"{path}:{i + 1}: this fence is never closed")
            break
        fenced.update(range(i, j + 1))
        lang = info.split()[0].lower() if info else ""
        marker_line = marker_before(lines, i)
        if lang in SHELL_INFO:
            body = [strip_indent(line, indent) for line in lines[i + 1 : j]]
            block = Block(path, i + 1, lang, body)
            if marker_line is not None:
                used_markers.add(marker_line)
                error = apply_marker(block, lines[marker_line], marker_line + 1)
                if error:
                    errors.append(error)
            if block.action == "run":
                block.commands = console_commands(body) if lang == "console" else body
                if lang == "console" and not block.commands:
                    errors.append(f"{block.where()}: a console block with no `$ ` command line")
            blocks.append(block)
        i = j + 1
    for n, line in enumerate(lines):
        if MARKER.match(line) and n not in used_markers and n not in fenced:
            errors.append(f"{path}:{n + 1}: this doc-test marker applies to no sh, bash, shell or "
                          "console block (it must come just before one)")
    return blocks, errors


def marker_before(lines: List[str], fence: int) -> Optional[int]:
    """The doc-test marker line just before a fence (blank lines and other comments between)."""
    k = fence - 1
    while k >= 0:
        if MARKER.match(lines[k]):
            return k
        if lines[k].strip() == "" or COMMENT.match(lines[k]):
            k -= 1
            continue
        return None
    return None


def apply_marker(block: Block, line: str, number: int) -> Optional[str]:
    content = MARKER.match(line).group(1).strip()
    kind, colon, rest = content.partition(":")
    kind, rest = kind.strip(), rest.strip()
    where = f"{block.path}:{number}"
    if kind == "skip":
        if not colon or not rest:
            return f"{where}: a skip without a reason (<!-- doc-test: skip: REASON -->)"
        block.action, block.detail = "skip", rest
        return None
    if kind == "run-by":
        block.action, block.detail = "run-by", rest
        if not colon or not rest:
            return f"{where}: a run-by without a path (<!-- doc-test: run-by: PATH -->)"
        return check_run_by(block.path, rest, where)
    return f"{where}: unknown doc-test marker {content!r} (skip: REASON, or run-by: PATH)"


def check_run_by(md: str, runner: str, where: str) -> Optional[str]:
    target = (ROOT / runner).resolve()
    if Path(runner).is_absolute() or ROOT not in target.parents:
        return f"{where}: run-by {runner}: not a path inside the repository"
    if not target.is_file():
        return f"{where}: run-by {runner}: no such file"
    names = {md, os.path.relpath(ROOT / md, target.parent)}
    text = target.read_text(errors="replace")
    if not any(name in text for name in names):
        return (f"{where}: run-by {runner}: that file does not name {md} "
                f"(as {' or '.join(sorted(names))}), so it cannot be what runs this block")
    return None


def strip_indent(line: str, indent: int) -> str:
    n = 0
    while n < indent and n < len(line) and line[n] == " ":
        n += 1
    return line[n:]


def console_commands(body: List[str]) -> List[str]:
    commands, continued = [], False
    for line in body:
        if continued:
            commands.append(line)
        elif line.startswith("$ ") or line == "$":
            commands.append(line[2:])
        else:
            continue
        continued = line.endswith("\\")
    return commands


# --- running ---------------------------------------------------------------------------------


def session_script(blocks: List[Block], logs: Path, status: Path) -> str:
    out = ["set -euo pipefail"]
    st = shlex.quote(str(status))
    for n, block in enumerate(blocks):
        if block.action != "run":
            continue
        log = shlex.quote(str(logs / f"{n}.out"))
        out.append(f"exec >{log} 2>&1")
        out.append(f"printf 'start {n} %s\\n' \"${{EPOCHREALTIME:-}}\" >>{st}")
        out.extend(block.commands)
        out.append(f"printf 'end {n} %s\\n' \"${{EPOCHREALTIME:-}}\" >>{st}")
    out.append(f"printf 'done\\n' >>{st}")
    return "\n".join(out) + "\n"


def session_env(base: Path, binaries: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in CLEARED and not k.startswith(CLEARED_PREFIXES)}
    real_home = Path(os.environ.get("HOME", str(Path.home())))
    home = base / "home"
    home.mkdir()
    for name in HOME_CACHES:
        if (real_home / name).exists():
            (home / name).symlink_to(real_home / name)
    # rustup and cargo find their homes from HOME unless told: keep them where they are.
    env.setdefault("CARGO_HOME", str(real_home / ".cargo"))
    env.setdefault("RUSTUP_HOME", str(real_home / ".rustup"))
    (base / "tmp").mkdir()
    # The binaries in a directory of the session's own, so that what a block writes beside
    # them (`$(dirname "$(command -v wbgen)")/../share/man`) stays in the session.
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name in BINARIES:
        if (binaries / name).exists():
            (bin_dir / name).symlink_to(binaries / name)
    env.update(HOME=str(home), TMPDIR=str(base / "tmp"),
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return env


def read_status(status: Path):
    started, ended, done = {}, {}, False
    if status.exists():
        for line in status.read_text().splitlines():
            parts = line.split()
            if parts == ["done"]:
                done = True
            elif len(parts) >= 2 and parts[0] in ("start", "end"):
                stamp = float(parts[2]) if len(parts) > 2 and parts[2].replace(".", "").isdigit() else None
                (started if parts[0] == "start" else ended)[int(parts[1])] = stamp
    return started, ended, done


def group_members(pgid: int) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def end_group(pgid: int) -> None:
    """Stops what the session left running: its own process group, nothing else."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 1.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not group_members(pgid):
                return
            time.sleep(0.05)


def tail(path: Path, limit: int = OUTPUT_LINES) -> str:
    if not path.exists():
        return "(no output)"
    lines = path.read_text(errors="replace").splitlines()
    cut = len(lines) - limit
    shown = ([f"(… {cut} earlier lines)"] if cut > 0 else []) + lines[-limit:]
    return "\n".join(shown) if shown else "(no output)"


def show_failure(block: Block, message: str, log: Path) -> None:
    print(f"{block.where()}: FAILED: {message}")
    print(f"--- the block ({block.info}, {block.where()})")
    print("\n".join(block.body))
    print("--- its output")
    print(tail(log))
    print("---")


def run_file(md: str, blocks: List[Block], binaries: Path, timeout: float, keep: bool) -> bool:
    base = Path(tempfile.mkdtemp(prefix="doc-test-"))
    work, logs, status = base / "work", base / "logs", base / "status"
    work.mkdir()
    logs.mkdir()
    script = base / "session.sh"
    script.write_text(session_script(blocks, logs, status))
    counts = {"run": 0, "skip": 0, "run-by": 0}
    began = time.monotonic()
    printed = 0  # blocks reported so far, in order

    def report(started: dict, ended: dict) -> None:
        """Prints the blocks not yet reported, in order, up to the first one still to end."""
        nonlocal printed
        while printed < len(blocks):
            block = blocks[printed]
            if block.action == "run":
                if printed not in ended:
                    return
                t0, t1 = started.get(printed), ended.get(printed)
                took = f" ({t1 - t0:.1f} s)" if t0 is not None and t1 is not None else ""
                print(f"{block.where()}: ran{took}", flush=True)
            elif block.action == "skip":
                print(f"{block.where()}: skipped ({block.detail})", flush=True)
            else:
                print(f"{block.where()}: run-by {block.detail}", flush=True)
            counts[block.action] += 1
            printed += 1

    ok = True
    if not any(b.action == "run" for b in blocks):
        report({}, {})
    else:
        with open(base / "session.out", "wb") as session_out:
            proc = subprocess.Popen(["bash", str(script)], cwd=work, stdin=subprocess.DEVNULL,
                                    stdout=session_out, stderr=subprocess.STDOUT,
                                    env=session_env(base, binaries), start_new_session=True)
        pgid, timed_out = proc.pid, False
        try:
            while proc.poll() is None:
                report(*read_status(status)[:2])
                if time.monotonic() - began > timeout:
                    timed_out = True
                    end_group(pgid)
                    proc.wait()
                    break
                time.sleep(0.05)
        except BaseException:  # interrupted: leave no server behind
            end_group(pgid)
            if not keep:
                shutil.rmtree(base, ignore_errors=True)
            raise
        started, ended, done = read_status(status)
        report(started, ended)
        running = [n for n in started if n not in ended]
        culprit = blocks[running[-1]] if running else None
        if timed_out:
            ok = False
            if culprit:
                show_failure(culprit, f"the file's time limit ({timeout:.0f} s) ran out in this block",
                             logs / f"{running[-1]}.out")
            else:
                print(f"{md}: FAILED: the time limit ({timeout:.0f} s) ran out")
        elif proc.returncode != 0 or not done:
            ok = False
            if culprit:
                why = (f"exit status {proc.returncode}" if proc.returncode != 0
                       else "the block ended the session (exit) before the file's other blocks")
                show_failure(culprit, why, logs / f"{running[-1]}.out")
            else:
                print(f"{md}: FAILED: the session stopped outside any block "
                      f"(exit status {proc.returncode})")
                print(tail(base / "session.out"))
        else:
            # Everything a block started must be stopped by the file's blocks themselves.
            deadline = time.monotonic() + 1.0
            left = group_members(pgid)
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = group_members(pgid)
            for pid in left:
                ok = False
                try:
                    out = os.readlink(f"/proc/{pid}/fd/1")
                    args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                except OSError:
                    out, args = "", "(gone)"
                # Its standard output is the log of the block that started it.
                owner = next((b for n, b in enumerate(blocks) if out == str(logs / f"{n}.out")), None)
                print(f"{owner.where() if owner else md}: FAILED: left running after the file's last "
                      f"block: pid {pid}, {args} (a block that starts a server must stop it: "
                      "`kill %1; wait`)")
        end_group(pgid)
    took = time.monotonic() - began
    if ok:
        print(f"{md}: {counts['run']} ran, {counts['skip']} skipped, {counts['run-by']} run-by "
              f"({took:.1f} s)", flush=True)
    if keep:
        print(f"{md}: its temporary directory was kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return ok


def workspace_binaries(release: bool, build: bool) -> Path:
    profile = "release" if release else "debug"
    if build:
        cmd = ["cargo", "build", "--locked", "--quiet"] + (["--release"] if release else [])
        for p in PACKAGES:
            cmd += ["-p", p]
        print("doc-test: " + " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    target = subprocess.run(["bash", str(ROOT / ".ci/target-dir")], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    built = Path(target) / profile
    missing = [b for b in BINARIES if not (built / b).is_file()]
    if missing:
        sys.exit(f"doc-test: {', '.join(missing)} not built in {built} "
                 f"(cargo build{' --release' if release else ''} -p {' -p '.join(PACKAGES)})")
    return built


def relative_to_root(name: str) -> str:
    """A file named from the current directory or from the repository's root, from the root."""
    p = Path(name)
    if not p.is_absolute() and (Path.cwd() / p).exists():
        p = Path.cwd() / p
    if p.is_absolute():
        try:
            return str(p.resolve().relative_to(ROOT))
        except ValueError:
            return name
    return name


def check(files: List[str], args) -> int:
    files = [relative_to_root(f) for f in files]
    plans, errors = [], []
    for md in files:
        path = ROOT / md
        if not path.is_file():
            errors.append(f"{md}: no such file (every file listed must exist)")
            continue
        blocks, errs = parse(md, path.read_text())
        plans.append((md, blocks))
        errors += errs
    if errors:
        for e in errors:
            print(f"{e}")
        print(f"doc-test: {len(errors)} error(s) in the markers; nothing was run")
        return 1
    if args.list:
        for md, blocks in plans:
            for b in blocks:
                what = {"run": "would run", "skip": f"skipped ({b.detail})",
                        "run-by": f"run-by {b.detail}"}[b.action]
                print(f"{b.where()}: {what}")
        return 0
    if args.bin_dir:
        binaries = Path(args.bin_dir).resolve()
    elif any(b.action == "run" for _, blocks in plans for b in blocks):
        binaries = workspace_binaries(args.release, not args.no_build)
    else:
        binaries = Path("/nonexistent")
    began = time.monotonic()
    for md, blocks in plans:
        if not run_file(md, blocks, binaries, args.timeout, args.keep):
            print(f"doc-test: FAILED in {md} (above)")
            return 1
    print(f"doc-test: {len(plans)} file(s) passed in {time.monotonic() - began:.1f} s")
    return 0


# --- the checker's own test ------------------------------------------------------------------

# (fixture, extra options, exit status, what the output must hold, what it must not)
SELF_TESTS = [
    ("xtask/doc-test/pass.md", [], 0,
     [r"pass\.md:\d+: ran", r"pass\.md:\d+: skipped \(a reason\)",
      r"pass\.md:\d+: run-by xtask/doc-test\.py", r"pass\.md: 5 ran, 1 skipped, 1 run-by"],
     [r"FAILED"]),
    ("xtask/doc-test/fail.md", [], 1,
     [r"fail\.md:\d+: ran", r"fail\.md:10: FAILED: exit status 3", r"output before the failure",
      r"--- the block"],
     [r"never printed", r"fail\.md:15"]),
    ("xtask/doc-test/unset.md", [], 1, [r"unset\.md:\d+: FAILED", r"TOKEN: unbound variable"], []),
    ("xtask/doc-test/no-reason.md", [], 1,
     [r"no-reason\.md:\d+: a skip without a reason", r"no-reason\.md:\d+: unknown doc-test marker",
      r"no-reason\.md:\d+: this doc-test marker applies to no sh", r"nothing was run"],
     [r": ran"]),
    ("xtask/doc-test/bad-run-by.md", [], 1,
     [r"run-by xtask/doc-test/no-such-file\.sh: no such file",
      r"run-by LICENSE-MIT: that file does not name xtask/doc-test/bad-run-by\.md"], [r": ran"]),
    ("xtask/doc-test/leftover.md", [], 1, [r"leftover\.md:\d+: FAILED: left running .*sleep 37"], []),
    ("xtask/doc-test/slow.md", ["--timeout", "1"], 1,
     [r"slow\.md:\d+: FAILED: the file's time limit \(1 s\) ran out"], []),
    ("xtask/doc-test/missing.md", [], 1, [r"missing\.md: no such file"], []),
]


def self_test() -> int:
    empty = tempfile.mkdtemp(prefix="doc-test-self-")
    failures = 0
    try:
        for fixture, extra, status, must, must_not in SELF_TESTS:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--bin-dir", empty, *extra, fixture]
            run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
            out = run.stdout + run.stderr
            problems = []
            if run.returncode != status:
                problems.append(f"exit status {run.returncode}, expected {status}")
            problems += [f"no line matching {p!r}" for p in must if not re.search(p, out)]
            problems += [f"a line matching {p!r}" for p in must_not if re.search(p, out)]
            if problems:
                failures += 1
                print(f"self-test {fixture}: FAILED: {'; '.join(problems)}\n--- its output\n{out}---")
            else:
                print(f"self-test {fixture}: ok")
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    print(f"self-test: {'FAILED' if failures else 'passed'} ({len(SELF_TESTS) - failures}/{len(SELF_TESTS)})")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     usage="%(prog)s [--self-test | --list] [options] [FILE.md ...]")
    parser.add_argument("files", nargs="*", metavar="FILE.md")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--release", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--bin-dir")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # Stopped from outside: unwind, so that each session's servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.self_test:
        return self_test()
    return check(args.files or DEFAULT_FILES, args)


if __name__ == "__main__":
    sys.exit(main())
