"""Run the three fuzz targets one after the other and report executions, corpus and findings.

    python fuzz/run_all.py --seconds 40 --work /tmp/rfa_fuzz            # CI: ~2 minutes
    python fuzz/run_all.py --seconds 900,600,600 --work /tmp/rfa_fuzz  # a long run (core, specs, onnx)
    python fuzz/run_all.py --build /tmp/rfa_sanitize --seconds 40      # against the sanitized build

``--build DIR`` is a tree built by ``tools/sanitize.sh`` (``SANITIZE_DIR=DIR``)
with ASan/UBSan. With libasan preloaded, atheris loses its Python coverage
(libasan provides the coverage symbols libFuzzer would), so: the core target,
which has no Python to cover, fuzzes under the sanitizers; the specs and
onnx targets fuzz with coverage on the normal build, then their whole corpus
is replayed once (``-runs=0``) under the sanitizers.  A
finding (``crash-*``, ``timeout-*``, ``oom-*`` in ``WORK/findings``) ends
that target's run; it is restarted for the time left, so one finding does
not hide the next.  Exit status 1 when there is any finding.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ("core", "specs", "onnx")


def sanitizer_env(build: str) -> dict[str, str]:
    def lib(name: str) -> str:
        return subprocess.run(["g++", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()

    return {
        "PYTHONPATH": build,
        "LD_PRELOAD": f"{lib('libasan.so')} {lib('libubsan.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }


def replay(name: str, work: str, env: dict[str, str]) -> int:
    """Run every corpus input once under ``env``; the number of findings (0 or 1)."""
    corpus = os.path.join(work, "corpus", name)
    cmd = [sys.executable, os.path.join(HERE, f"fuzz_{name}.py"), corpus, os.path.join(work, "seeds", name), "-runs=0",
           f"-artifact_prefix={os.path.join(work, 'findings')}/{name}-replay-"]  # fmt: skip
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=work)
    with open(os.path.join(work, f"{name}.replay.log"), "w") as log:
        log.write(proc.stdout)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], file=sys.stderr)
        return 1
    return 0


def run_target(name: str, seconds: int, work: str, env: dict[str, str]) -> dict[str, int]:
    corpus = os.path.join(work, "corpus", name)
    findings = os.path.join(work, "findings")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(findings, exist_ok=True)
    seeds = os.path.join(work, "seeds", name)
    stats = {"executions": 0, "findings": 0, "restarts": 0}
    deadline = time.time() + seconds
    log_path = os.path.join(work, f"{name}.log")
    with open(log_path, "w") as log:
        while time.time() < deadline - 2:
            left = int(deadline - time.time())
            cmd = [sys.executable, os.path.join(HERE, f"fuzz_{name}.py"), corpus, seeds, f"-max_total_time={left}",
                   f"-artifact_prefix={findings}/{name}-", "-max_len=262144"]  # fmt: skip
            before = set(os.listdir(findings))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=work)
            log.write(proc.stdout)
            m = re.findall(r"stat::number_of_executed_units:\s+(\d+)", proc.stdout)
            stats["executions"] += int(m[-1]) if m else 0
            new = set(os.listdir(findings)) - before
            stats["findings"] += len(new)
            if proc.returncode == 0:
                break
            if not new:  # died without an artifact: report it, do not loop
                stats["findings"] += 1
                print(proc.stdout[-3000:], file=sys.stderr)
                break
            stats["restarts"] += 1
            print(f"fuzz {name}: finding {sorted(new)} (log {log_path})", file=sys.stderr)
    stats["corpus"] = len(os.listdir(corpus))
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", default="40", help="per target: one number, or core,specs,onnx")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "fuzz"), help="corpus, seeds, logs, findings")
    ap.add_argument("--build", help="a tree built by tools/sanitize.sh (SANITIZE_DIR) to fuzz under ASan/UBSan")
    ap.add_argument("--targets", default=",".join(TARGETS))
    args = ap.parse_args()
    secs = [int(s) for s in args.seconds.split(",")]
    targets = args.targets.split(",")
    if len(secs) == 1:
        secs = secs * len(targets)
    work = os.path.abspath(args.work)
    sys.path.insert(0, HERE)
    import seeds  # noqa: PLC0415 - after sys.path

    print("fuzz: seeds", seeds.write(os.path.join(work, "seeds")))
    # The targets import rfa_fast as installed (or from PYTHONPATH); the repo
    # root is only their fallback (fuzz/_runner.py), for an in-place build.
    env = dict(os.environ)
    san_env = dict(env, **sanitizer_env(os.path.abspath(args.build))) if args.build else None
    total = {"executions": 0, "findings": 0}
    start = time.time()
    for name, s in zip(targets, secs):
        st = run_target(name, s, work, san_env if san_env and name == "core" else env)
        extra = ""
        if san_env and name != "core":
            st["findings"] += replay(name, work, san_env)
            extra = " (corpus replayed under ASan/UBSan)"
        print(
            f"fuzz {name}: {st['executions']} executions in {s} s, corpus {st['corpus']}, findings {st['findings']}{extra}"
        )
        total["executions"] += st["executions"]
        total["findings"] += st["findings"]
    print(
        f"fuzz total: {total['executions']} executions in {time.time() - start:.0f} s, findings {total['findings']}"
        f" ({os.path.join(work, 'findings')})"
    )
    return 1 if total["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
