"""Mutation testing: can the test suite tell a plausible bug from the real thing?

Each mutant is a small patch (file, old text, new text) that injects one bug
an audit found plausible (issue 16): a receptive field off by one, a wrong
merge, a ceil_mode rule, a border walk, a loader that drops an attribute,
the reference and the core wrong together.  For each mutant this script

1. copies the repository (tracked and new files, not ignored ones) to a
   temporary directory, with the unmutated build made once for all;
2. applies the patch (every ``old`` text must occur exactly once: a patch
   that no longer applies stops the run, so the list is retargeted when a
   file changes, e.g. when the space engine replaced ``csrc/rfa/chains.cpp``);
3. rebuilds the extensions when a compiled source changed (``setup.py``
   declares the headers, so a header patch rebuilds too);
4. runs the fast deterministic tests (no ``slow``, no ``hypothesis``: a kill
   must not depend on a random draw) with ``-x``, in an order that puts the
   hand-derived and oracle tests first;

and prints a table: mutant, the first test that failed, seconds.  The
unmutated copy must pass the same tests first (else a "kill" means nothing).
The exit status is 1 when a mutant survives.

    python tools/mutants.py                 # all mutants (about 10 minutes on 2 cores)
    python tools/mutants.py --list          # names only
    python tools/mutants.py --only "dense border count" --keep /tmp/m

Needs the build requirements of ``pyproject.toml`` (pybind11, Cython) in the
running environment. ``.ci/run`` runs it in its slow step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``path`` (relative to the repository)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    patches: tuple[Patch, ...]


def mutant(name: str, *patches: tuple[str, str, str]) -> Mutant:
    return Mutant(name, tuple(Patch(*p) for p in patches))


ENGINE = "csrc/rfa/engine.cpp"
SIZES = "csrc/rfa/sizes.hpp"
REFERENCE = "rfa_fast/reference.py"
CEIL_CORE = (SIZES, "if ((o - 1) * r.s >= add_sat(n, r.pb)) --o;", "if ((o - 1) * r.s > add_sat(n, r.pb)) --o;")
CEIL_REFERENCE = (REFERENCE, "if (out - 1) * s >= n + pb:", "if (out - 1) * s > n + pb:")

# The 13 mutants of the audit of issue 16 and those of issue 17. Retarget a patch here when its file changes.
MUTANTS = [
    mutant(
        "window rf off by one",
        (ENGINE, "s.lo.F = add_chk(in.lo.F, grow, ok);", "s.lo.F = add_chk(in.lo.F, grow + in.J, ok);"),
        (ENGINE, "s.hi.F = add_chk(in.hi.F, grow, ok);", "s.hi.F = add_chk(in.hi.F, grow + in.J, ok);"),
    ),
    mutant("merge rf_min as max", (ENGINE, "if (a < rlo || (a == rlo &&", "if (a > rlo || (a == rlo &&")),
    mutant("ceil_mode drop rule", CEIL_CORE),
    mutant(
        "border through resize",
        (
            ENGINE,
            "} else if (k == MERGE || k == IDENTITY || k == RESIZE || is_windowed(k)) {",
            "} else if (k == MERGE || k == IDENTITY || is_windowed(k)) {",
        ),
    ),
    mutant("transposed jump", (ENGINE, "s.J = in.J / st;", "s.J = in.J;")),
    mutant("dense border count", ("csrc/rfa/lanes_impl.hpp", "nb[v] -= un & ((ui[v] & 1) == 0);", "nb[v] -= un;")),
    mutant(
        "threshold merge inverse",
        ("csrc/rfa/thresholds.cpp", "best = std::min(best, inverse(", "best = std::max(best, inverse("),
    ),
    mutant(
        "merge tie-break (on F alone, the rule before issue 16)",
        (
            ENGINE,
            "unrounded(st_[p * D_ + d].lo) < unrounded(st_[best_lo * D_ + d].lo)",
            "st_[p * D_ + d].lo.F < st_[best_lo * D_ + d].lo.F",
        ),
        (
            ENGINE,
            "unrounded(st_[p * D_ + d].hi) > unrounded(st_[best_hi * D_ + d].hi)",
            "st_[p * D_ + d].hi.F > st_[best_hi * D_ + d].hi.F",
        ),
    ),
    mutant(
        "loader ignores dilations",
        ("rfa_fast/onnx/ops.py", 'dil = tuple(a.get("dilations") or (1,) * n)', "dil = (1,) * n"),
    ),
    mutant("loader ignores ceil_mode", ("rfa_fast/onnx/ops.py", 'ceil = bool(a.get("ceil_mode", 0))', "ceil = False")),
    mutant(
        "reference border (looks at the direct input only)",
        (REFERENCE, "if not any(bad[u] for u in ancestors[v]):", "if not bad[graph.nodes[v].inputs[0]]:"),
    ),
    mutant("reference ceil_mode", CEIL_REFERENCE),
    mutant("core and reference ceil_mode together", CEIL_CORE, CEIL_REFERENCE),
    # issue 17: dead branches (no output reachable)
    mutant(
        "dead nodes set rf_max",
        (
            ENGINE,
            "if ((flags_[i] & (kConnected | kGlobal | kDead)) != kConnected) continue;  // live spatial nodes",
            "if ((flags_[i] & (kConnected | kGlobal)) != kConnected) continue;",
        ),
    ),
    mutant(
        "lanes liveness ignores the chosen input",
        ("csrc/rfa/lanes_impl.hpp", "(s ? (s[v] == e) : splat(-1))", "splat(-1)"),
    ),
    mutant(
        "nb201 node 1 reaches the output through 2<-1 alone",
        ("csrc/rfa/nb201.cpp", "(ops[2] != kNone && reach_[2])", "ops[2] != kNone"),
    ),
]

# The hand-derived and oracle tests first: with -x the first failure ends the run.
FIRST = [
    "tests/test_hand_cases.py",
    "tests/test_oracle.py",
    "tests/test_reference_rules.py",
    "tests/test_chains.py",
    "tests/test_nb201_kernel.py",
    "tests/test_thresholds.py",
    "tests/test_onnx_loader.py",
]
SLOW_SUBPROCESS = {"tests/test_cli.py", "tests/test_examples.py", "tests/test_distributed.py"}
"""Left out of the fast subset: they run the command line and the examples in child processes (tens of seconds)
and compute nothing the other tests do not."""


def fast_tests(root: Path) -> list[str]:
    rest = sorted(str(p.relative_to(root)) for p in (root / "tests").glob("test_*.py"))
    return [t for t in FIRST if (root / t).exists()] + [t for t in rest if t not in FIRST and t not in SLOW_SUBPROCESS]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return proc, time.perf_counter() - t


def copy_tree(src: Path, dst: Path) -> None:
    """The files git knows (tracked or new, not ignored) of ``src`` into ``dst``."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=src,
        capture_output=True,
        check=True,
    ).stdout
    for rel in filter(None, out.decode().split("\0")):
        s = src / rel
        if s.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dst / rel)


def apply(tree: Path, m: Mutant) -> None:
    for p in m.patches:
        f = tree / p.path
        text = f.read_text()
        count = text.count(p.old)
        if count != 1:
            raise SystemExit(
                f"mutant {m.name!r}: {p.old!r} occurs {count} times in {p.path} (must be once): retarget MUTANTS"
            )
        f.write_text(text.replace(p.old, p.new))


def build(tree: Path, env: dict[str, str]) -> float:
    proc, secs = run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], tree, env)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed in {tree}:\n{proc.stderr[-3000:]}")
    return secs


def pytest(tree: Path, env: dict[str, str], report: Path) -> tuple[list[str], float, str]:
    """Run the fast deterministic tests; the failing test ids (in order), the seconds and the summary line."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow and not hypothesis and not torchvision",
    ]
    cmd += [f"--junitxml={report}", *fast_tests(tree)]
    proc, secs = run(cmd, tree, env)
    failed = []
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}")
    lines = proc.stdout.strip().splitlines()
    return failed, secs, lines[-1] if lines else proc.stderr[-500:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", default=[], help="run only the mutant of this name (repeatable)")
    p.add_argument("--list", action="store_true", help="print the mutants' names and exit")
    p.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    p.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the tests")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(m.name for m in MUTANTS))
        return 0
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(f"unknown mutant in {args.only}; --list shows the names")
    for module in ("pybind11", "Cython"):
        try:
            __import__(module)
        except ImportError:
            raise SystemExit(f"{module} is needed to build the mutants: pip install pybind11 Cython") from None

    work = args.keep or Path(tempfile.mkdtemp(prefix="rfa_mutants_"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    copy_tree(ROOT, base)
    shared = ROOT.parent / "shared"  # the validation corpus the tests find next to the checkout
    if shared.is_dir() and not (work / "shared").exists():
        (work / "shared").symlink_to(shared)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    print(f"building the unmutated copy in {base} ...", flush=True)
    secs = build(base, env)
    print(f"  {secs:.0f} s", flush=True)
    check = subprocess.run(
        [sys.executable, "-c", "import rfa_fast, rfa_fast._core; print(rfa_fast._core.__file__)"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not check.startswith(str(base)):
        raise SystemExit(f"the copy imports rfa_fast from {check}, not from {base}")
    if not args.no_baseline:
        failed, secs, summary = pytest(base, env, work / "base.xml")
        print(f"unmutated: {summary} ({secs:.0f} s)", flush=True)
        if failed:
            raise SystemExit(f"the unmutated copy fails {failed[0]}: fix that first")

    rows = []
    for m in chosen:
        tree = work / "mutant"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(base, tree, symlinks=True)
        apply(tree, m)
        compiled = any(p.path.startswith("csrc/") or p.path.endswith(".pyx") for p in m.patches)
        build_secs = build(tree, env) if compiled else 0.0
        failed, secs, summary = pytest(tree, env, work / "mutant.xml")
        rows.append((m.name, failed[0] if failed else "SURVIVED", secs, build_secs))
        print(f"{m.name}: {rows[-1][1]} ({secs:.0f} s tests, {build_secs:.0f} s build)", flush=True)
        shutil.rmtree(tree, ignore_errors=True)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'mutant':<{width}} | killed by | seconds of tests | seconds of build |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for name, test, secs, build_secs in rows:
        print(f"| {name:<{width}} | {test} | {secs:.1f} | {build_secs:.0f} |")
    survivors = [r[0] for r in rows if r[1] == "SURVIVED"]
    if survivors:
        print(f"\n{len(survivors)} mutant(s) survived: {', '.join(survivors)}")
        return 1
    print(f"\nall {len(rows)} mutants killed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
