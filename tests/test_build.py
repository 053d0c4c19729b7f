"""book/build.py: its post-processing of executed notebooks (a page leads with its results), its
build folder."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

_spec = importlib.util.spec_from_file_location("build", Path(__file__).parents[1] / "book" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

# what tqdm writes, redraw by redraw (leave=False clears the bar at the end)
BAR = ("\rmask add:   0%|          | 0/1000 [00:00<?, ?it/s]"
       "\rmask add:  95%|█████████▍| 946/1000 [00:01<00:00, 512.3it/s]"
       "\r                                                        \r")


def _stream(name: str, text: str):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _presented(tmp_path, *cells):
    """The cells of a notebook made of ``cells`` after build.present."""
    nb = nbformat.v4.new_notebook()
    nb.cells.extend(cells)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    build.present(path)
    return nbformat.read(path, as_version=4).cells


def _code(source: str, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.outputs = list(outputs)
    return cell


def test_parameters_cells_are_removed_and_other_code_is_folded(tmp_path):
    cells = _presented(
        tmp_path,
        nbformat.v4.new_markdown_cell("# Chapter"),
        _code("profile = None", ["parameters"]),
        _code('profile = "smoke"', ["injected-parameters"]),
        _code("results = run()"),
        _code("table()", ["remove-input"]),
        _code("setup()", ["remove-cell"]),
        _code("figure()", ["hide-input"]),
        _code("details()", ["hide-cell"]),
        _code("plot()", ["some-tag"]),
    )
    tags = [c.metadata.get("tags", []) for c in cells]
    assert tags == [
        [],                                       # Markdown stays as it is
        ["parameters", "remove-cell"],            # the notebook's own parameters: gone
        ["injected-parameters", "remove-cell"],   # papermill's: gone
        ["hide-input"],                           # code folded behind the toggle, output shown
        ["remove-input"],                         # the notebook's own choice is kept
        ["remove-cell"],
        ["hide-input"],
        ["hide-cell"],
        ["hide-input", "some-tag"],
    ]


def test_a_front_page_whose_parameters_are_already_removed_is_unchanged(tmp_path):
    cells = _presented(tmp_path, _code("profile = None", ["parameters", "remove-cell"]),
                       _code("dashboard()", ["remove-input"]))
    assert [c.metadata["tags"] for c in cells] == [["parameters", "remove-cell"], ["remove-input"]]


def test_progress_bars_are_removed_from_the_outputs(tmp_path):
    cells = _presented(tmp_path, _code("results = run()", outputs=[
        # the kernel sends each redraw as an output of its own
        _stream("stderr", BAR[:60]),
        _stream("stderr", BAR[60:]),
        _stream("stdout", "trained 3 networks\n"),
        _stream("stderr", "train: 100%|██████████| 40/40 [00:00<00:00, 85.1it/s]\n"),
        _stream("stderr", "0it [00:00, ?it/s]\n"),
    ]))
    outs = cells[0].outputs
    assert [(o["name"], o["text"]) for o in outs] == [("stdout", "trained 3 networks\n")]
    # on stderr a redrawn line is a progress display, whatever it looks like
    assert build.without_progress("step 1/3\rstep 2/3\rstep 3/3\nok\n", "stderr") == "ok\n"


def test_warnings_and_results_beside_a_bar_are_kept(tmp_path):
    warning = "/lib/x.py:3: UserWarning: the network has not learned the task\n  warnings.warn(msg)\n"
    cells = _presented(tmp_path, _code("results = run()", outputs=[
        _stream("stderr", BAR + warning),
        _stream("stdout", "accuracy 97.5%\nloss | 0.1\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"}),
    ]))
    outs = cells[0].outputs
    assert outs[0]["name"] == "stderr" and outs[0]["text"] == warning
    assert outs[1]["name"] == "stdout" and outs[1]["text"] == "accuracy 97.5%\nloss | 0.1\n"
    assert outs[2]["output_type"] == "display_data"


def test_a_stdout_line_redrawn_without_a_bar_keeps_its_final_state(tmp_path):
    cells = _presented(tmp_path, _code("count()", outputs=[_stream("stdout", "step 1\rstep 2\rstep 3\ndone\n")]))
    assert cells[0].outputs[0]["text"] == "step 3\ndone\n"
    # a line that only ends in a carriage return (Windows line ends) is not redrawn
    assert build.without_progress("one\r\ntwo\r\n", "stderr") == "one\r\ntwo\r\n"


def test_a_tqdm_widget_is_removed(tmp_path):
    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "  0%|          | 0/1000 [00:00<?, ?it/s]"})
    cells = _presented(tmp_path, _code("run()", outputs=[widget, _stream("stdout", "ok\n")]))
    assert [o["output_type"] for o in cells[0].outputs] == ["stream"]


def test_presenting_twice_changes_nothing(tmp_path):
    cells = _presented(tmp_path, _code("profile = None", ["parameters"]),
                       _code("run()", outputs=[_stream("stderr", BAR + "warning\n"), _stream("stdout", "x\n")]))
    path = tmp_path / "again.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells.extend(cells)
    nbformat.write(nb, path)
    build.present(path)
    assert nbformat.read(path, as_version=4).cells == cells


def test_a_progress_line_keeps_its_final_state_only():
    text = "step 0/3\rstep 1/3\rstep 3/3\rdone\nplain line\n"
    assert build.final_progress(text) == "done\nplain line\n"
    # a line cleared at the end (blanks written over it) keeps its last drawn state
    assert build.final_progress("a: 50\ra: 100\r      \r") == "a: 100"


def test_the_executed_copy_gets_the_registrys_toc(tmp_path):
    from weightmask import chapters
    build.copy_sources(keep=[], executed=tmp_path / "executed")
    assert (tmp_path / "executed" / "_toc.yml").read_text(encoding="utf-8") == chapters.toc()
    assert not list((tmp_path / "executed").glob("*.ipynb"))  # the notebooks arrive executed


def test_a_kept_executed_copy_is_presented_like_a_new_one(tmp_path):
    from weightmask import chapters
    name = Path(f"{chapters.names()[0]}.ipynb")
    executed = tmp_path / "executed"
    executed.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(_code("run()", outputs=[_stream("stderr", BAR)]))
    nbformat.write(nb, executed / name)
    build.copy_sources(keep=[name], executed=executed)
    cell = nbformat.read(executed / name, as_version=4).cells[0]
    assert cell.metadata["tags"] == ["hide-input"] and cell.outputs == []


@pytest.mark.parametrize("build_dir, html", [("_build", "_build/html"), ("_build/smoke", "_build/smoke/html")])
def test_the_build_folder_holds_the_executed_copy_and_the_pages(build_dir, html, tmp_path, monkeypatch):
    """--build-dir DIR: executed notebooks in DIR/executed, pages in DIR/html (Jupyter Book itself
    writes to <path-output>/_build/html: build.py moves them there)."""
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "MATHJAX", tmp_path / "tex-chtml.js")
    (tmp_path / "tex-chtml.js").touch()
    calls = []

    def fake_jupyter_book(cmd, cwd):
        calls.append(cmd)
        out = Path(cmd[cmd.index("--path-output") + 1]) / "_build" / "html"
        out.mkdir(parents=True)
        (out / "index.html").write_text("<html></html>")

        class Done:
            returncode = 0
        return Done()

    monkeypatch.setattr(build.subprocess, "run", fake_jupyter_book)
    build.main(["--profile", "smoke", "--no-execute", "--build-dir", build_dir])
    assert (tmp_path / build_dir / "executed" / "_toc.yml").is_file()
    assert calls[0][2] == str(tmp_path / build_dir / "executed")
    assert (tmp_path / html / "index.html").is_file()
