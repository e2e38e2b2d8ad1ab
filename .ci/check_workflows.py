"""Checks that every GitHub Actions workflow under .github/workflows parses as YAML and has the
shape Actions needs: triggers, jobs with `runs-on` and steps, each step one `uses` or `run`.

Usage: python3 .ci/check_workflows.py [FILE...]   (default: .github/workflows/*.yml)
"""

import glob
import sys

import yaml


def problems(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        return ["not a mapping at the top level"]
    found = []
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean true.
    if "on" not in doc and True not in doc:
        found.append("no `on:` triggers")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return found + ["no jobs"]
    for name, job in jobs.items():
        if "runs-on" not in job:
            found.append(f"job {name}: no runs-on")
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            found.append(f"job {name}: no steps")
            continue
        for i, step in enumerate(steps, 1):
            if not isinstance(step, dict) or ("uses" in step) == ("run" in step):
                found.append(f"job {name}, step {i}: needs exactly one of `uses` or `run`")
    return found


def main(paths):
    paths = paths or sorted(glob.glob(".github/workflows/*.yml") + glob.glob(".github/workflows/*.yaml"))
    if not paths:
        print("no workflow files found", file=sys.stderr)
        return 1
    failed = False
    for path in paths:
        try:
            found = problems(path)
        except (OSError, yaml.YAMLError) as e:
            found = [str(e)]
        for p in found:
            print(f"{path}: {p}", file=sys.stderr)
        failed |= bool(found)
        print(f"{path}: {'INVALID' if found else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
