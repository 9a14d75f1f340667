"""Precision, recall and F1 of ctrlens.secrets on bench/secrets_corpus.tsv, per rule family and overall.

    python bench/secrets_precision.py [--errors] [CORPUS]

Per family, a row counts as a true positive when the detector's rule belongs to the row's labelled family.
"Overall" asks only "secret or not" (any family), which is what redaction depends on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctrlens.secrets import FAMILIES, classify, family

CORPUS = Path(__file__).with_name("secrets_corpus.tsv")
NONE = "none"


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(value[i + 1], "\\" + value[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, value, label = line.split("\t")
        rows.append((name, unescape(value), label))
    return rows


def predict(name: str, value: str) -> str:
    detection = classify(name, value)
    return NONE if detection is None else family(detection.rule)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument(
        "--errors", action="store_true", help="list misclassified rows (names only, no values)"
    )
    args = parser.parse_args()

    rows = load(args.corpus)
    results = [(name, label, predict(name, value), len(value)) for name, value, label in rows]
    print(f"{len(rows)} rows, {sum(1 for *_, lb in rows if lb != NONE)} secrets\n")
    print(f"{'family':<14} {'n':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7} {'f1':>6}")
    for fam in FAMILIES:
        tp = sum(1 for _, lb, pr, _ in results if lb == fam and pr == fam)
        fp = sum(1 for _, lb, pr, _ in results if lb != fam and pr == fam)
        fn = sum(1 for _, lb, pr, _ in results if lb == fam and pr != fam)
        n = sum(1 for _, lb, _, _ in results if lb == fam)
        p, r, f = prf(tp, fp, fn)
        print(f"{fam:<14} {n:>4} {tp:>4} {fp:>4} {fn:>4} {p:>9.3f} {r:>7.3f} {f:>6.3f}")
    tp = sum(1 for _, lb, pr, _ in results if lb != NONE and pr != NONE)
    fp = sum(1 for _, lb, pr, _ in results if lb == NONE and pr != NONE)
    fn = sum(1 for _, lb, pr, _ in results if lb != NONE and pr == NONE)
    p, r, f = prf(tp, fp, fn)
    exact = sum(1 for _, lb, pr, _ in results if lb == pr) / len(results)
    print(f"{'overall':<14} {tp + fn:>4} {tp:>4} {fp:>4} {fn:>4} {p:>9.3f} {r:>7.3f} {f:>6.3f}")
    print(f"\nfamily agreement on all rows (secret and harmless): {exact:.3f}")
    if args.errors:
        print("\nmisclassified (label -> predicted):")
        for name, label, pred, length in results:
            if label != pred:
                print(f"  {name:<45} {label:>12} -> {pred:<12} ({length} chars)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
