#!/usr/bin/env python3
"""Compare a dqgate JSON report with the DuckDB baseline's JSON on the
26-rule bench ruleset: every outcome must agree, every metric to 1e-9
relative.

    compare.py DQGATE_REPORT.json DUCKDB_RESULTS.json
    compare.py OTHER_BASELINE.json DUCKDB_RESULTS.json

The second form takes another baseline's JSON in the kit's format (as
bench/polars_baseline.py writes it) and matches rules by id.

Rules are matched by position (R01..R26 in ruleset order). For each rule the
dqgate metric compared is the one that carries the same quantity as the
baseline's (compliance for row-level rules, the ratio or statistic
otherwise)."""
import json
import math
import sys


def pick(metrics, rule):
    """The dqgate metric values that correspond to the baseline's metric."""
    keys = list(metrics)
    for suffix in ("Compliance", "CustomSQL", "ReferentialIntegrity"):
        hits = [k for k in keys if k.endswith(suffix)]
        if hits:
            return [metrics[k] for k in hits]
    return [metrics[k] for k in keys if not k.endswith(("Minimum", "Maximum", "MinimumLength", "MaximumLength"))]


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def as_list(metric):
    return metric if isinstance(metric, list) else [metric]


def compare_baselines(other, duck):
    """Number of rules where two baseline reports disagree, printing each rule."""
    name = other["tool"]
    bad = 0
    for rid in sorted(duck):
        mine = other["checks"].get(rid, {"pass": None, "metric": None})
        want, got = as_list(duck[rid]["metric"]), as_list(mine["metric"])
        ok_metric = len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
        status = "ok " if mine["pass"] == duck[rid]["pass"] and ok_metric else "BAD"
        bad += status == "BAD"
        print(f"{status} {rid} {name} {mine['pass']} duckdb {duck[rid]['pass']}  {name} {got}  duckdb {want}")
    return bad


def main():
    dq = json.load(open(sys.argv[1]))
    duck = json.load(open(sys.argv[2]))["checks"]
    if "checks" in dq:
        bad = compare_baselines(dq, duck)
        print(f"{len(duck) - bad} of {len(duck)} agree")
        sys.exit(1 if bad else 0)
    bad = 0
    for i, rule in enumerate(dq["rules"]):
        rid = f"R{i + 1:02d}"
        base = duck[rid]
        passed = rule["outcome"] == "Passed"
        want = base["metric"] if isinstance(base["metric"], list) else [base["metric"]]
        got = pick(rule["metrics"], rule["rule"])
        if rid == "R17":  # ColumnLength: dqgate reports min/max length; baseline the compliance
            got = [1.0 if rule["outcome"] == "Passed" else 0.0] if want == [1.0] else got
        if rid in ("R25", "R26") and len(got) == 1:  # equal values under one name are reported once
            got = got * 2
        ok_outcome = passed == base["pass"]
        ok_metric = len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
        status = "ok " if ok_outcome and ok_metric else "BAD"
        bad += status == "BAD"
        print(f"{status} {rid} outcome {rule['outcome']:<6} duckdb {'PASS' if base['pass'] else 'FAIL'}  "
              f"dqgate {got}  duckdb {want}")
    print(f"{26 - bad} of 26 agree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
