"""What automatic prompt-cache breakpoints save: the 10-turn session of
`tests/contract/test_prompt_cache.py` (official openai SDK, Chat and Responses) through a real
`interlink serve` to the emulator's Anthropic upstream with Anthropic's caching rules, once with
`auto_cache` on (the default) and once off; tokens and cost at the built-in claude-sonnet-4-5
prices. Prints the Markdown table the README quotes.

    .venv/bin/python benchmarks/prompt_cache.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.contract.conftest import free_port, start_emulator, start_gateway, stop, write_config  # noqa: E402
from tests.contract.test_prompt_cache import MODELS, SESSIONS, TURNS, UPSTREAM_MODEL  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        emu_port, gw_port = free_port(), free_port()
        emulator = start_emulator(emu_port, "--prompt-cache")
        write_config(root / "interlink.yaml", f"http://127.0.0.1:{emu_port}", models=MODELS)
        gateway = start_gateway(root / "interlink.yaml", gw_port, root / "gateway.log")
        try:
            rows = []
            for api, run in sorted(SESSIONS.items()):
                on = run(f"http://127.0.0.1:{gw_port}", "cached-sonnet", f"{api}-1", stream=True)
                off = run(f"http://127.0.0.1:{gw_port}", "uncached-sonnet", f"{api}-2", stream=True)
                rows.append((api, on, off))
        finally:
            stop(gateway)
            stop(emulator)
    print(f"{TURNS} requests per session, upstream model {UPSTREAM_MODEL}, streamed\n")
    print(
        "| client API | auto_cache | prompt tokens | uncached input | cache reads | cache writes | cost (in + out) | saving |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for api, on, off in rows:
        for label, session in (("off", off), ("on", on)):
            t = session.totals()
            saving = f"{1 - on.cost() / off.cost():.0%}" if label == "on" else "–"
            print(
                f"| {api} | {label} | {t['prompt']:,} | {t['input']:,} | {t['cache_read']:,} | {t['cache_write']:,} "
                f"| ${session.cost():.4f} | {saving} |"
            )


if __name__ == "__main__":
    main()
