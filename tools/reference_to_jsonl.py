#!/usr/bin/env python3
"""Converts a published per-epoch training log of the NITI authors (../shared/reference/*.tsv:
epoch (0-based), train_acc %, train_loss, test_acc %, test_loss) into the JSON Lines that
`niti train --log` writes, so that `niti plot` draws it next to our runs.

    tools/reference_to_jsonl.py ../shared/reference/niti-vgg-small-7.tsv -o authors7.jsonl
    niti plot authors7.jsonl ours.jsonl -o vgg7.svg

Their epoch e (0-based, evaluated after it) becomes our epoch e + 1 (1-based, the epochs done),
accuracies become fractions as in our logs. Their losses are float losses (contract section 12):
plotted as given, not comparable bit for bit with ours. Standard library only."""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tsv", help="a reference log: epoch, train_acc, train_loss, test_acc, test_loss")
    ap.add_argument("-o", "--output", required=True, help="the JSON Lines file to write")
    ap.add_argument("--label", help="the run's name in plots (default: from the file name)")
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.tsv))[0]
    label = a.label or "NITI authors' log (%s)" % name
    want = ["epoch", "train_acc", "train_loss", "test_acc", "test_loss"]
    rows = []
    try:
        with open(a.tsv, encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    except OSError as e:
        sys.exit("reference_to_jsonl: cannot read %s: %s" % (a.tsv, e.strerror))
    if not lines or lines[0].split("\t") != want:
        sys.exit("reference_to_jsonl: %s: the first line must be the header %s"
                 % (a.tsv, "\\t".join(want)))
    for n, ln in enumerate(lines[1:], start=2):
        cols = ln.split("\t")
        try:
            if len(cols) != 5:
                raise ValueError("5 columns expected, got %d" % len(cols))
            e = int(cols[0])
            v = [float(c) for c in cols[1:]]
        except ValueError as err:
            sys.exit("reference_to_jsonl: %s line %d: %s" % (a.tsv, n, err))
        if e != len(rows):
            sys.exit("reference_to_jsonl: %s line %d: epoch %d, expected %d" % (a.tsv, n, e, len(rows)))
        rows.append(v)
    run = "reference-" + name
    out = [{"event": "start", "run": run, "label": label, "model": name, "source": a.tsv,
            "epochs": len(rows), "resumed_at_step": 0}]
    for e, (tr_acc, tr_loss, te_acc, te_loss) in enumerate(rows):
        out.append({"event": "epoch", "run": run, "epoch": e + 1, "train_loss": tr_loss,
                    "train_acc": round(tr_acc / 100.0, 6), "test_loss": te_loss,
                    "test_acc": round(te_acc / 100.0, 6)})
    out.append({"event": "end", "run": run, "epochs_done": len(rows),
                "test_acc": round(rows[-1][2] / 100.0, 6) if rows else None})
    tmp = a.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, a.output)
    print("%s: %d epochs, last test accuracy %.2f%%" % (a.output, len(rows), rows[-1][2] if rows else 0))


if __name__ == "__main__":
    main()
