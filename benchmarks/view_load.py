"""Viewer load time: a page of 10,000 responses, opened from disk in headless Chromium.

    python benchmarks/view_load.py [--responses 10000] [--repeats 3] [--keep DIR] [--screenshot PNG]

Writes an evaluation's out dir with ``python -m verl_ccrl.eval``'s own code (tests/view_inputs.py: the toy world's
three eval splits, three methods, five runs, a scripted policy with arithmetic slips and per-token entropies), builds
the page with ``python -m verl_ccrl.eval view``, and opens it ``--repeats`` times in a fresh tab (tests/chromium.py,
the DevTools pipe). Prints the page's size and, per load, the time from navigation start to the first page of
responses rendered (the page's ``performance.now()`` when it is ready), then the time to apply a filter and to
render the next page of responses, all measured in the page. ``--screenshot`` also saves the page as it looks
with the wrong answers shown and the first wrong number's tooltip open (docs/img/viewer.png is
``--responses 300 --screenshot docs/img/viewer.png``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", default=None, help="Write the inputs and the page here (default: a temporary dir).")
    parser.add_argument("--screenshot", default=None, metavar="PNG", help="Also save a screenshot of the page here.")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="view-load-")
    try:
        return measure(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: str) -> int:
    from chromium import Chromium
    from view_inputs import METHODS, write_toy_results

    from toy_world.tokenizer import build_tokenizer
    from verl_ccrl.eval.cli import main as eval_main

    runs = sum(len(seeds) for _, _, seeds in METHODS.values())
    per_benchmark = -(-args.responses // (3 * runs))
    started = time.perf_counter()
    results = write_toy_results(os.path.join(work, "results"), build_tokenizer(), per_benchmark)
    print(f"inputs: {3 * runs * per_benchmark} responses scored in {time.perf_counter() - started:.0f} s")
    page = os.path.join(work, "report.html")
    started = time.perf_counter()
    assert eval_main(["view", results, "--out", page, "--quiet"]) == 0
    print(f"page: {os.path.getsize(page) / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f} s")

    loads, filters, scrolls = [], [], []
    with Chromium() as browser:
        for _ in range(args.repeats):
            tab = browser.open("file://" + page)
            tab.wait_for("document.body.dataset.ready === '1'")
            loads.append(float(tab.evaluate("document.body.dataset.readyMs")))
            filters.append(tab.evaluate(
                "(() => { const t = performance.now(); const e = document.getElementById('f-answer');"
                " e.value = 'wrong'; e.dispatchEvent(new Event('change', {bubbles: true}));"
                " return performance.now() - t; })()"
            ))  # fmt: skip
            scrolls.append(tab.evaluate(
                "(() => { const t = performance.now(); document.getElementById('more').click();"
                " return performance.now() - t; })()"
            ))  # fmt: skip
            assert not tab.problems, tab.problems
            shown = tab.evaluate("document.getElementById('summary').textContent.split(';')[0]")
        if args.screenshot:
            tab = browser.open("file://" + page)
            tab.wait_for("document.body.dataset.ready === '1'")
            tab.evaluate(
                "(() => { const e = document.getElementById('f-answer'); e.value = 'wrong';"
                " e.dispatchEvent(new Event('change', {bubbles: true}));"
                " document.querySelector('#list mark.m-wrong').focus({preventScroll: true}); })()"
            )
            tab.screenshot(args.screenshot, width=1400, height=1150)
    print(f"page holds: {shown}")
    print(f"load to first responses rendered: {', '.join(f'{ms:.0f}' for ms in loads)} ms "
          f"(median {statistics.median(loads):.0f} ms)")  # fmt: skip
    print(f"a filter (answer = wrong): median {statistics.median(filters):.0f} ms; "
          f"the next page of responses: median {statistics.median(scrolls):.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
