"""book/build.py's post-processing of executed notebooks."""
import importlib.util
from pathlib import Path

import nbformat

_spec = importlib.util.spec_from_file_location("build", Path(__file__).parents[1] / "book" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_a_progress_bar_keeps_its_final_state_only():
    text = "bar:  0%| 0/3\rbar: 33%| 1/3\rbar: 100%| 3/3\rdone\nplain line\n"
    assert build.final_progress(text) == "done\nplain line\n"
    # a bar cleared at the end (leave=False writes blanks) keeps its last drawn state
    assert build.final_progress("a: 50%\ra: 100%\r      \r") == "a: 100%"


def test_executed_notebook_streams_are_reduced(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    # the kernel sends each redraw as an output of its own
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="x: 1/2"),
                    nbformat.v4.new_output("stream", name="stderr", text="\rx: 2/2\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="result 7\n")]
    nb.cells.append(cell)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    build.keep_final_progress(path)
    outs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [o["text"] for o in outs] == ["x: 2/2\n", "result 7\n"]


def test_the_executed_copy_gets_the_registrys_toc(tmp_path, monkeypatch):
    from weightmask import chapters
    monkeypatch.setattr(build, "EXECUTED", tmp_path / "executed")
    build.copy_sources(keep=[])
    assert (tmp_path / "executed" / "_toc.yml").read_text(encoding="utf-8") == chapters.toc()
    assert not list((tmp_path / "executed").glob("*.ipynb"))  # the notebooks arrive executed
