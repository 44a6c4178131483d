"""The README's Python example runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_two_commands_open_the_readme() -> None:
    first_block = README.read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    assert first_block.splitlines()[0].startswith("./scripts/demo")
    assert first_block.splitlines()[1].startswith("./scripts/test")


def test_python_api_example_runs(tmp_path: Path) -> None:
    example = next(b for b in python_blocks() if "anyio.run(main)" in b)
    script = tmp_path / "example.py"
    script.write_text(example)
    env = {"BATON_DATA_DIR": str(tmp_path / "data"), "BATON_WORKSPACE": str(tmp_path), "PATH": ""}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "execution_started "
    assert lines[-1] == "succeeded {'text': 'HELLO DANA'}"
