#!/usr/bin/env python3
"""The quantile or the mean of a Prometheus histogram over an interval, from two scrapes of /metrics.

    scripts/metrics-quantile.py BEFORE AFTER METRIC QUANTILE|mean [LABEL=VALUE ...]

For a quantile, prints the upper bound, in milliseconds, of the bucket that holds it among the
observations made between the two scrapes (summed over the series that match the labels): a
bucket bound, not an interpolation, so "at most this". For `mean`, prints their mean in
milliseconds (the change of the histogram's sum over the change of its count). "–" when there
were none.
"""
import re
import sys


def samples(path, metric, wanted):
    """(part, labels, value) of the histogram's lines (part: bucket, sum or count) whose labels
    include `wanted`."""
    for line in open(path):
        match = re.match(r"^(\w+)_(bucket|sum|count)(?:\{(.*)\})? (\S+)$", line.strip())
        if not match or match.group(1) != metric:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(labels.get(k) == v for k, v in wanted.items()):
            yield match.group(2), labels, float(match.group(4))


def buckets(path, metric, wanted):
    counts = {}
    for part, labels, value in samples(path, metric, wanted):
        if part == "bucket":
            bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            counts[bound] = counts.get(bound, 0.0) + value
    return counts


def totals(path, metric, wanted):
    """The histogram's sum and count, over the series that match."""
    found = {"sum": 0.0, "count": 0.0}
    for part, _, value in samples(path, metric, wanted):
        if part != "bucket":
            found[part] += value
    return found


def main():
    before, after, metric, quantile = sys.argv[1:5]
    wanted = dict(pair.split("=", 1) for pair in sys.argv[5:])
    if quantile == "mean":
        start, end = totals(before, metric, wanted), totals(after, metric, wanted)
        count = end["count"] - start["count"]
        print(f"{(end['sum'] - start['sum']) / count * 1000:.2f}" if count > 0 else "–")
        return
    start, end = buckets(before, metric, wanted), buckets(after, metric, wanted)
    delta = {bound: end[bound] - start.get(bound, 0.0) for bound in end}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        print("–")
        return
    for bound in sorted(delta):
        if delta[bound] >= float(quantile) * total:
            print("over the last bucket" if bound == float("inf") else f"≤ {bound * 1000:g}")
            return


main()
