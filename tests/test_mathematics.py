"""The Mathematics Dataset from DeepMind's generator: deterministic, distinct, cached, checked."""
import json
import re
import warnings
from fractions import Fraction

import pytest
import sympy

from weightmask.tasks import mathematics as m

ADD = "arithmetic__add_or_sub"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def add_easy(cache):
    return m.generate(ADD, "easy", 150, seed=0, data=cache, progress=False)


def _fresh(tmp_path, *args, **kw):
    return m.generate(*args, data=tmp_path, progress=False, **kw)


def test_same_seed_same_pairs_different_seed_different(add_easy, cache, tmp_path):
    assert len(add_easy) == 150 and all(isinstance(q, str) and isinstance(a, str) for q, a in add_easy)
    assert _fresh(tmp_path, ADD, "easy", 150, seed=0) == add_easy  # made again, elsewhere
    other = m.generate(ADD, "easy", 150, seed=1, data=cache, progress=False)
    assert len(set(other) & set(add_easy)) < 15
    hard = m.generate(ADD, "hard", 50, seed=0, data=cache, progress=False)
    assert len(set(hard) & set(add_easy)) < 10


def test_chunks_do_not_depend_on_the_process_that_made_them(tmp_path):
    """One worker making chunks 0 and 1 in turn gives what two fresh workers give."""
    header = dict(task="polynomials__collect", difficulty="medium", seed=3)
    one = [p for _, p in sorted(m._workers(*header.values(), range(2), workers=1))]
    two = [p for _, p in sorted(m._workers(*header.values(), range(2), workers=2))]
    assert one == two and len(one[0]) == m.CHUNK and one[0] != one[1]


def test_distinct_questions_and_a_larger_n_extends_a_smaller(add_easy, cache):
    assert len({q for q, _ in add_easy}) == len(add_easy)
    assert m._unique([("a", "1"), ("b", "2"), ("a", "1")]) == [("a", "1"), ("b", "2")]
    more = m.generate(ADD, "easy", 250, seed=0, data=cache, progress=False)
    assert more[:150] == add_easy and len({q for q, _ in more}) == 250


def test_cache_is_reused_without_generating(add_easy, cache, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("generated although cached")
    monkeypatch.setattr(m, "_workers", fail)
    assert m.generate(ADD, "easy", 120, seed=0, data=cache, progress=False) == add_easy[:120]


def _edited(b):
    stored = json.loads(b)
    stored["pairs"][0][1] += "0"
    return json.dumps(stored).encode()


def test_truncated_cache_is_made_again(tmp_path):
    first = _fresh(tmp_path, "comparison__sort", "easy", 40, seed=2)
    path = m.cache_path("comparison__sort", "easy", 2, tmp_path)
    intact = path.read_bytes()
    path.write_bytes(intact[:len(intact) // 2])
    with pytest.warns(m.CorruptCacheWarning, match="damaged"):
        assert _fresh(tmp_path, "comparison__sort", "easy", 40, seed=2) == first
    assert path.read_bytes() == intact  # written whole again
    for damage in (_edited, lambda b: b"not json", lambda b: intact.replace(b'"seed": 2', b'"seed": 5')):
        path.write_bytes(damage(intact))
        with pytest.warns(m.CorruptCacheWarning, match="damaged"):
            assert m._load(path, m._header("comparison__sort", "easy", 2)) == []
        assert not path.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m._load(path, m._header("comparison__sort", "easy", 2)) == []  # absent: nothing to warn about


@pytest.mark.parametrize("args,message", [
    (("calculus__integrate", "easy", 5), "unknown task 'calculus__integrate'; choose one of \\['arithmetic"),
    ((ADD, "train-easy", 5), "unknown difficulty 'train-easy'; choose one of \\['easy', 'medium', 'hard'\\]"),
    ((ADD, "easy", 0), "n must be an integer >= 1"),
    ((ADD, "easy", 2.5), "n must be an integer >= 1"),
])
def test_errors_name_the_parameter(args, message, tmp_path, monkeypatch):
    monkeypatch.setattr(m, "_workers", lambda *a, **k: pytest.fail("generated before checking"))
    with pytest.raises(ValueError, match=message):
        m.generate(*args, data=tmp_path)
    with pytest.raises(ValueError, match="seed must be"):
        m.generate(ADD, "easy", 5, seed=-1, data=tmp_path)


def _numbers(text):
    return [Fraction(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)]


def test_add_or_sub_answers_are_the_sum_or_difference(add_easy):
    for q, a in add_easy:
        x, y = _numbers(q)
        assert Fraction(a) in (x + y, x - y, y - x), (q, a)


def test_sort_answers_are_the_numbers_in_the_asked_order(cache):
    for q, a in m.generate("comparison__sort", "hard", 50, seed=0, data=cache, progress=False):
        given, got = _numbers(q), _numbers(a)
        down = any(w in q for w in ("decreasing", "descending"))
        assert got == sorted(given, reverse=down), (q, a)


def test_linear_and_collect_answers_check_out_with_sympy(cache):
    for q, a in m.generate("algebra__linear_1d", "medium", 30, seed=0, data=cache, progress=False):
        lhs, rhs, var = re.fullmatch(r"Solve (.+) = (.+) for (\w)\.", q).groups()
        x = sympy.Symbol(var)
        assert sympy.simplify(sympy.sympify(lhs) - sympy.sympify(rhs)).subs(x, sympy.sympify(a)) == 0, (q, a)
    for q, a in m.generate("polynomials__collect", "easy", 30, seed=0, data=cache, progress=False):
        expr = re.fullmatch(r"Collect the terms in (.+)\.", q).group(1)
        assert sympy.expand(sympy.sympify(expr) - sympy.sympify(a)) == 0, (q, a)


def test_splits_hold_out_each_difficultys_validation_from_every_training_set(cache):
    s = m.splits("comparison__sort", n_train=60, n_val=20, seed=0, data=cache, progress=False)
    assert set(s) == {"train", "validation"} and set(s["train"]) == set(m.DIFFICULTIES)
    held = {q for p in s["validation"].values() for q, _ in p}
    assert all(len(p) == 20 for p in s["validation"].values())
    assert all(q not in held for p in s["train"].values() for q, _ in p)
    assert all(len({q for q, _ in p}) == len(p) <= 60 for p in s["train"].values())
    with pytest.raises(ValueError, match="n must be"):
        m.splits("comparison__sort", n_train=0, n_val=20, data=cache)


def _no_generation(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("generated although cached")
    monkeypatch.setattr(m, "_workers", fail)


def test_arrow_cache_holds_the_json_caches_pairs_and_memory_maps(add_easy, cache, tmp_path, monkeypatch):
    """The paper profile's cache (Arrow shards) gives the pairs the JSON cache gives, starts from a JSON cache
    without generating, extends itself shard by shard and reads back memory-mapped."""
    import inspect
    assert 150 < m.ARROW_FROM and inspect.signature(m.splits).parameters["storage"].default is None  # quick: JSON
    fresh = _fresh(tmp_path, ADD, "easy", 150, seed=0, storage="arrow")
    assert fresh == add_easy and not m.cache_path(ADD, "easy", 0, tmp_path).exists()
    folder = m.arrow_path(ADD, "easy", 0, tmp_path)
    assert (folder / "manifest.json").is_file() and len(list(folder.glob("*.arrow"))) >= 1
    more = _fresh(tmp_path, ADD, "easy", 250, seed=0, storage="arrow")
    assert more[:150] == add_easy and len({q for q, _ in more}) == 250
    shards = json.loads((folder / "manifest.json").read_text())["shards"]
    assert len(shards) >= 2 and all(s["rows"] % m.CHUNK == 0 for s in shards)
    t = m.table(ADD, "easy", 0, tmp_path)
    assert t.num_rows == sum(s["rows"] for s in shards) and t.column_names == ["question", "answer"]
    _no_generation(monkeypatch)
    assert _fresh(tmp_path, ADD, "easy", 250, seed=0, storage="arrow") == more
    assert m.generate(ADD, "easy", 150, seed=0, data=cache, progress=False, storage="arrow") == add_easy  # from JSON
    assert m.table(ADD, "easy", 0, cache).num_rows == len(m._load(m.cache_path(ADD, "easy", 0, cache),
                                                                  m._header(ADD, "easy", 0)))


def test_a_damaged_arrow_shard_is_made_again(tmp_path):
    first = _fresh(tmp_path, "comparison__sort", "easy", 150, seed=2, storage="arrow")
    folder = m.arrow_path("comparison__sort", "easy", 2, tmp_path)
    shard = folder / json.loads((folder / "manifest.json").read_text())["shards"][-1]["file"]
    shard.write_bytes(shard.read_bytes()[:-7])
    with pytest.warns(m.CorruptCacheWarning, match="damaged cache shard"):
        assert _fresh(tmp_path, "comparison__sort", "easy", 150, seed=2, storage="arrow") == first
    with pytest.raises(ValueError, match="storage must be"):
        _fresh(tmp_path, "comparison__sort", "easy", 5, seed=2, storage="parquet")


def test_the_paper_profiles_sizes_take_the_arrow_cache(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(m, "_arrow_cache", lambda *a: seen.append(a) or ([("q", "a")] * m.CHUNK, None))
    monkeypatch.setattr(m, "_unique", lambda raw: [(f"q{i}", "a") for i in range(m.ARROW_FROM)])
    assert len(_fresh(tmp_path, ADD, "easy", m.ARROW_FROM, seed=0)) == m.ARROW_FROM and len(seen) == 1


def _hub_copy(tmp_path, per=4, repeats=1):
    """A local copy of the released train split in the hub's format: ``per`` questions per difficulty (each
    ``repeats`` times), easy, medium and hard one after the other, answers ending in a newline as released."""
    import datasets
    rows = [(f"{d} q{i}\n", f"{i}\n") for d in m.DIFFICULTIES for i in range(per) for _ in range(repeats)]
    datasets.Dataset.from_dict({"question": [q for q, _ in rows], "answer": [a for _, a in rows]}).save_to_disk(
        str(tmp_path / "math"))
    return tmp_path / "math"


def test_splits_from_the_hub_take_each_difficultys_distinct_questions(tmp_path):
    path = _hub_copy(tmp_path, per=5, repeats=2)
    s = m.splits(ADD, n_train=10, n_val=2, source="hub", path=path)
    assert s["validation"]["hard"] == [("hard q0", "0"), ("hard q1", "1")]
    assert s["train"]["easy"] == [(f"easy q{i}", f"{i}") for i in range(2, 5)]  # the rest: fewer than n_train
    with pytest.raises(ValueError, match="too few distinct"):
        m.splits(ADD, n_train=1, n_val=5, source="hub", path=path)


def test_auto_reads_the_hub_where_it_answers_else_the_generator(monkeypatch):
    from weightmask.tasks import hub
    monkeypatch.setattr(hub, "_READABLE", {})
    monkeypatch.setattr(m, "_probe", lambda task: None)
    assert m.resolve("auto", ADD) == "hub" and m.resolve("generator") == "generator"

    def offline(task):
        raise ConnectionError("no network")
    monkeypatch.setattr(hub, "_READABLE", {})
    monkeypatch.setattr(m, "_probe", offline)
    with pytest.warns(UserWarning, match="cannot be read .*ConnectionError"):
        assert m.resolve("auto", ADD) == "generator"
    with pytest.raises(ValueError, match="unknown Mathematics Dataset source 'web'"):
        m.resolve("web")
