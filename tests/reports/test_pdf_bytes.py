"""A PDF is a function of its HTML: two processes rendering the same page a second apart write the same bytes.
fontTools stamps an embedded font subset with the time unless SOURCE_DATE_EPOCH is set (the renderer sets it);
the colour emoji font of customers' comments is subset that way, so the page holds one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import hashlib, sys\n"
    "from reports.render import html_to_pdf_with_pages\n"
    "pdf, pages = html_to_pdf_with_pages('<html><body><h1>Weekly loyalty report</h1><p>app crashed &#128545;</p></body></html>')\n"
    "print(hashlib.sha256(pdf).hexdigest(), pages)\n"
)


def _render_in_a_new_process() -> str:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_two_processes_a_second_apart_write_the_same_pdf():
    first = _render_in_a_new_process()
    time.sleep(1.1)  # the font subsets' timestamp has a resolution of one second
    second = _render_in_a_new_process()
    assert first == second
    assert first.endswith(" 1") and len(first.split()[0]) == len(hashlib.sha256().hexdigest())
