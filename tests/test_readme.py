"""The README's 'use it on your own model' example runs and does what the README says."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_and_finds_the_module(capsys, monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_PROGRESS", "0")
    text = README.read_text()
    code = re.search(r"<!-- readme-example -->\s*```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(compile(code, str(README), "exec"), ns)
    out = capsys.readouterr().out
    assert "accuracy with the mask:" in out and "accuracy with the inverted mask:" in out
    mask, masked, x, y = ns["mask"], ns["masked"], ns["x"], ns["y"]
    kept = mask["4.weight"].view(2, 8, 32).float()
    assert kept[..., :16].mean() > 2 * kept[..., 16:].mean()  # first half kept, second dropped
    import weightmask as wm
    with masked.fixed(mask):
        assert wm.accuracy(masked(x), y) > 0.9
    with masked.fixed(~mask):
        assert wm.accuracy(masked(x), y) < 0.65  # chance is 0.5
    assert all(not p.requires_grad for p in masked.model.parameters())


def test_every_file_the_layout_table_names_exists():
    root = README.parent
    table = README.read_text().split("## Layout", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = 0
    for row in rows:
        folder, what = row.split("|")[1:3]
        base = root / folder.strip().strip("`")
        for name in re.findall(r"`([\w./-]+\.(?:py|ipynb|md|bib))`", what):
            assert (base / name).exists() or (root / name).exists(), f"README layout names {name}, not in {base}"
            named += 1
    assert named >= 20
