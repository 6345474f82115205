#!/usr/bin/env python3
"""Runs the pods of shards-job.yaml and merge-job.yaml without a cluster, and checks the merge.

Each container's `args` are taken from the manifests as they are, `$(JOB_COMPLETION_INDEX)`
expanded as Kubernetes expands it, and run in a chroot laid out like the pods: a static
`licsim` alone at /usr/local/bin (no shell, as in the distroless image), the scenario at
/scenarios/scenario.toml (the ConfigMap), /parts and /reports (the volume's subPaths), as
uid/gid 65532, `parallelism` indices at a time. Then the merge Job's args, then the shards'
sweep in one `licsim run`, whose reports and printed summary must be identical to the merge's.

    cargo build --release -p sim-cli --target x86_64-unknown-linux-gnu   # with RUSTFLAGS='-C target-feature=+crt-static'
    sudo python3 deploy/kubernetes/emulate.py STATIC_LICSIM SCENARIO.toml [ROOT]

Needs root (chroot) and PyYAML. ROOT (default /tmp/licsim-k8s-root) is emptied first. The
sweep is the one in shards-job.yaml (`--seeds 10000`): pick a small scenario.
"""

import filecmp
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

REPORTS = ["report.json", "report.md", "runs.csv", "findings.csv", "chart.svg"]
HERE = os.path.dirname(os.path.abspath(__file__))


def container(manifest):
    with open(os.path.join(HERE, manifest)) as f:
        job = yaml.safe_load(f)
    return job["spec"], job["spec"]["template"]["spec"]["containers"][0]


def expand(args, env):
    """Kubernetes' $(VAR) expansion in args."""
    var = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
    return [var.sub(lambda m: env.get(m.group(1), m.group(0)), a) for a in args]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    binary, scenario = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if len(sys.argv) == 4 else "/tmp/licsim-k8s-root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ["usr/local/bin", "scenarios", "parts", "reports"]:
        os.makedirs(os.path.join(root, d))
    shutil.copy(binary, os.path.join(root, "usr/local/bin/licsim"))
    shutil.copy(scenario, os.path.join(root, "scenarios/scenario.toml"))
    for d in ["parts", "reports"]:
        os.chown(os.path.join(root, d), 65532, 65532)

    def licsim(args, env):
        start = time.time()
        p = subprocess.run(
            ["/usr/sbin/chroot", "--userspec=65532:65532", root, "/usr/local/bin/licsim", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        return p, time.time() - start

    spec, shard = container("shards-job.yaml")
    print(f"shards: {spec['completions']} indices, {spec['parallelism']} at a time: "
          + " ".join(shard["args"]))

    def run_index(k):
        env = {"JOB_COMPLETION_INDEX": str(k)}
        return (k, *licsim(expand(shard["args"], env), env))

    start = time.time()
    with ThreadPoolExecutor(spec["parallelism"]) as pool:
        for k, p, dt in pool.map(run_index, range(spec["completions"])):
            print(f"  index {k}: exit {p.returncode} in {dt:.1f} s: {(p.stdout + p.stderr).strip()}")
            if p.returncode != 0:
                sys.exit(1)
    print(f"  all indices done in {time.time() - start:.1f} s")

    _, merge = container("merge-job.yaml")
    merged, dt = licsim(merge["args"], {})
    print(f"merge: {' '.join(merge['args'])}: exit {merged.returncode} in {dt:.1f} s "
          + merged.stderr.strip())
    if merged.returncode not in (0, 1):
        sys.exit(1)
    out = merge["args"][merge["args"].index("--out") + 1]

    one = list(shard["args"])
    i = one.index("--shard")
    del one[i:i + 2]
    one[one.index("--out") + 1] = "/reports/one-machine"
    whole, dt = licsim(one, {})
    print(f"one machine: {' '.join(one)}: exit {whole.returncode} in {dt:.1f} s")

    ok = whole.returncode == merged.returncode
    for f in REPORTS:
        same = filecmp.cmp(os.path.join(root, out.lstrip("/"), f),
                           os.path.join(root, "reports/one-machine", f), shallow=False)
        print(f"  {f}: {'identical' if same else 'DIFFERS'}")
        ok &= same
    same = merged.stdout == whole.stdout
    print(f"  printed summary: {'identical' if same else 'DIFFERS'}")
    ok &= same
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
