#!/usr/bin/env python3
"""Runs a doc's transcript (docs/cli.md, docs/models.md) against a real fleet, as written.

The transcript is the ```console block between the markers
`<!-- transcript:begin -->` and `<!-- transcript:end -->`. Every line starting
with "$ " is a command (a trailing backslash continues it); the lines after it,
up to the next command, are what it printed when the transcript was recorded.
All commands run in order in one bash process (so exports and background jobs
carry over), in a scratch folder holding coordinator/testdata, with the real
binaries first on PATH, and PORT / HTTP_PORT set to free loopback ports. The
repository files a transcript reads (coordinator/testdata, sim/models,
tools/onnx/onnx_eval.py) are copied in where they exist.

Checked: every command exits 0 (background ones excepted); a command whose
recorded output starts with a table header (a line of upper-case column names)
prints that same header now; and, when the transcript uses `flctl rounds
--watch`, with a real terminal (script(1)) it draws its refreshing screen.

  cli_transcript.py check DOC BINDIR...   # the test
  cli_transcript.py record DOC BINDIR...  # prints a fresh transcript to paste
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

BEGIN, END = "<!-- transcript:begin -->", "<!-- transcript:end -->"


def parse(doc):
    text = open(doc, encoding="utf-8").read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{doc}: no transcript markers")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    lines = [l for l in block.splitlines() if not l.startswith("```")]
    steps, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        cmd = lines[i][2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd[:-1] + " " + lines[i].strip()
        i += 1
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        while out and not out[-1].strip():
            out.pop()
        steps.append((cmd, out))
    return steps


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HEADER = re.compile(r"^[A-Z][A-Z0-9-]*(\s+[A-Z][A-Z0-9-]*)+\s*$")


def main():
    mode, doc, bindirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    steps = parse(doc)
    if len(steps) < 10:
        sys.exit(f"{doc}: only {len(steps)} commands in the transcript")
    work = tempfile.mkdtemp(prefix="transcript-", dir=os.environ.get("TEST_TMPDIR"))
    root = os.path.join(os.path.dirname(os.path.abspath(doc)), "..")
    for rel in ("coordinator/testdata", "sim/models", "tools/onnx/onnx_eval.py"):
        src, dst = os.path.join(root, rel), os.path.join(work, rel)
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        elif os.path.isfile(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(src, dst)
    env = dict(os.environ)
    env["PATH"] = ":".join(os.path.abspath(d) for d in bindirs) + ":" + env["PATH"]
    env["PORT"], env["HTTP_PORT"] = str(free_port()), str(free_port())
    env.pop("FLCTL_SERVER", None)
    env.pop("FLCTL_TOKEN", None)
    # One bash runs every step; each step's output goes to its own file and
    # its exit code to a marker line, so steps share exports and jobs.
    script = ["set +e", "cd " + work]
    for n, (cmd, _) in enumerate(steps):
        out = os.path.join(work, f".step{n}")
        if cmd.rstrip().endswith("&"):
            script.append(cmd)  # Backgrounded: it writes where it says.
            script.append(f"echo 0 > {out}.rc; : > {out}")
        else:
            # Braces, not a subshell: exports and variables carry to later steps.
            script.append(f"{{ {cmd}\n}} > {out} 2>&1; echo $? > {out}.rc")
    script.append("kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; exit 0")
    proc = subprocess.run(["bash", "-c", "\n".join(script)], env=env, timeout=600)  # A hang guard.
    failures = []
    record = []
    for n, (cmd, expected) in enumerate(steps):
        out_path = os.path.join(work, f".step{n}")
        rc = int(open(out_path + ".rc").read().strip() or "1") if os.path.exists(out_path + ".rc") else -1
        got = open(out_path, encoding="utf-8", errors="replace").read().splitlines() if os.path.exists(out_path) else []
        record.append("$ " + cmd)
        record.extend(got)
        if rc != 0:
            failures.append(f"step {n} `{cmd}` exited {rc}:\n  " + "\n  ".join(got[-15:]))
            continue
        if expected and HEADER.match(expected[0]):
            want = expected[0].split()
            have = got[0].split() if got else []
            if want != have:
                failures.append(f"step {n} `{cmd}`: header {have} != documented {want}")
    if mode == "record":
        print("\n".join(record))
        return 0
    if not any("rounds" in cmd and "--watch" in cmd for cmd, _ in steps):
        for f in failures:
            print("FAIL:", f)
        print(f"transcript: {len(steps)} commands, {len(failures)} failure(s)")
        return 1 if failures else 0
    # The refreshing screen needs a terminal: script(1) gives flctl one.
    token = open(os.path.join(work, "demo", "admin.token")).read().strip()
    screen_env = dict(env, FLCTL_TOKEN=token)
    coordinator = subprocess.Popen(["coordinator", "--data_dir=" + os.path.join(work, "demo"),
                                    "--port=" + env["PORT"]], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
    try:
        coordinator.stdout.readline()  # "listening on ..."
        typescript = os.path.join(work, "typescript")
        subprocess.run(["script", "-qfc",
                        f"timeout -s INT 3 flctl --insecure --server=127.0.0.1:{env['PORT']} rounds --watch",
                        typescript], env=screen_env, timeout=30, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
        screen = open(typescript, encoding="utf-8", errors="replace").read()
        if "\033[H\033[2J" not in screen or "fedtiny rounds" not in screen:
            failures.append("rounds --watch on a terminal drew no screen:\n" + screen[-500:])
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=30)
    for f in failures:
        print("FAIL:", f)
    print(f"transcript: {len(steps)} commands, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
