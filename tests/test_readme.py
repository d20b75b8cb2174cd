"""The README stays true: its Python code blocks run in order, in one namespace, and its API
reference examples pass as doctests."""

import doctest
import pathlib
import re

import jax

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_opens_with_the_two_commands():
    first = re.search(r"```bash\n(.*?)```", README.read_text(), flags=re.S).group(1)
    lines = first.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("python -m benchmarks.convergence --quick")
    assert lines[1].endswith("python -m pytest -n 2 tests")  # what .ci/run runs
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest -n 2 tests" in ci


def test_the_code_blocks_run_in_order(capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 5  # model, optimizer, fit, sweep, scale-out
    namespace: dict = {}
    # The README's snippets are user code: NumPy-style promotion, as users run it.
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    assert namespace["result"].shape == (3, 2, 2)
    printed = capsys.readouterr().out
    assert "he_normal" in printed and "accuracy" in printed


def test_the_api_reference_doctests_pass():
    with jax.numpy_dtype_promotion("standard"):
        failed, attempted = doctest.testfile(
            str(README), module_relative=False, optionflags=doctest.ELLIPSIS
            | doctest.NORMALIZE_WHITESPACE)
    assert attempted >= 10 and failed == 0
