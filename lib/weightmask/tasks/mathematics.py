"""The Mathematics Dataset (Saxton et al., 2019) from DeepMind's own generator (paper App. C.7.2).

``generate(task, difficulty, n, seed)`` returns ``n`` distinct (question, answer) strings of one
task at one difficulty: ``"easy"``, ``"medium"`` or ``"hard"``, the generator's train-easy /
train-medium / train-hard (the lower, middle and upper third of each module's entropy range,
as ``mathematics_dataset/generate.py --train_split`` makes them). The samples are made in
chunks of ``CHUNK`` by worker processes (one per core) with ``PYTHONHASHSEED`` fixed and
``random`` / ``numpy`` seeded per chunk, so the same seed gives the same pairs, and a larger
``n`` extends a smaller one. Chunks are cached in ``data/mathematics/`` and never made twice;
a cache file that is truncated or does not match its checksum is made again.

``splits`` carves a validation set from each difficulty as App. C.7.2 does.

Caches: a JSON file per task, difficulty and seed for up to ``ARROW_FROM`` samples (smoke, quick);
from there on (the paper profile: 666,666 per difficulty) a folder of Arrow IPC shards that
memory-map (``<difficulty>-seed<seed>.arrow/``, one shard per save, each with its checksum in
``manifest.json``), started from the JSON cache when one exists. ``hub`` reads the released
samples of ``deepmind/math_dataset`` through ``datasets`` instead (online, or its cache);
``splits(..., source=...)`` takes either, or the hub where it answers and the generator otherwise.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import queue
import string
import subprocess
import sys
import tempfile
import threading
import warnings
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from .. import settings
from .._io import atomic_write

TASKS = ("arithmetic__add_or_sub", "algebra__linear_1d", "calculus__differentiate", "comparison__sort",
         "polynomials__collect")
DIFFICULTIES = ("easy", "medium", "hard")
CHARS = " " + string.ascii_letters + string.digits + string.punctuation  # generate_settings.QUESTION_CHARS
CHUNK = 100           # samples per seeded chunk: the unit of generation, caching and parallelism
SAVE_EVERY = 20       # chunks between cache writes during a long generation
HASH_SEED = "0"       # PYTHONHASHSEED of the generating processes (sympy iterates over sets)
FORMAT = 1            # of the cache files
MIN_NEW = 0.01        # a round of generation adding fewer new questions than this share: exhausted
ARROW_FROM = 100_000  # samples asked for from which the cache is Arrow shards (the paper profile), not JSON
STORAGES = ("json", "arrow")
HUB = "deepmind/math_dataset"  # configs = the task names; its train split: train-easy, -medium, -hard in order
HUB_PER_DIFFICULTY = 666_666  # samples of each difficulty in the released train split
SOURCES = ("generator", "hub", "auto")  # of ``splits``

WORKER = Path(__file__).with_name("_mathematics_worker.py")

Pairs = list[tuple[str, str]]


class CorruptCacheWarning(UserWarning):
    """A cached chunk file was unreadable or failed its checksum and is generated again."""


def check(task: str | None = None, difficulty: str | None = None, n: int | None = None) -> None:
    """Raise a ValueError naming the parameter and its allowed values (None: not checked)."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r}; choose one of {list(DIFFICULTIES)} "
                         "(the generator's train-easy / train-medium / train-hard)")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")


def _chunk_seed(task: str, difficulty: str, seed: int, chunk: int) -> int:
    text = f"{task}/{difficulty}/{seed}/{chunk}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def _digest(pairs: Pairs) -> str:
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def cache_path(task: str, difficulty: str, seed: int, data: Path | None = None) -> Path:
    base = Path(data) if data is not None else settings.data_dir()
    return base / "mathematics" / task / f"{difficulty}-seed{seed}.json"


def _header(task: str, difficulty: str, seed: int) -> dict:
    """What a cache file must say about itself to be used."""
    return {"format": FORMAT, "generator": f"mathematics_dataset {version('mathematics_dataset')}",
            "task": task, "difficulty": difficulty, "seed": seed, "chunk": CHUNK}


def _load(path: Path, header: dict) -> Pairs:
    """The cached raw pairs (whole chunks), or [] when absent; a damaged file is discarded."""
    if not path.is_file():
        return []
    try:
        stored = json.loads(path.read_bytes())
        pairs = [tuple(p) for p in stored["pairs"]]
        ok = ({k: stored.get(k) for k in header} == header and len(pairs) % CHUNK == 0
              and stored["sha256"] == _digest(stored["pairs"]))
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        warnings.warn(f"discarding the damaged or outdated cache {path}; generating it again",
                      CorruptCacheWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return []
    return pairs


def _save(path: Path, header: dict, pairs: Pairs) -> None:
    body = [list(p) for p in pairs]
    atomic_write(path, json.dumps({**header, "pairs": body, "sha256": _digest(body)}).encode())


def _workers(task: str, difficulty: str, seed: int, chunks: range, workers: int):
    """Start the generating processes; yield ``(chunk, pairs)`` as they finish (any order)."""
    env = settings.child_environment(PYTHONHASHSEED=HASH_SEED)
    jobs = [[[k, _chunk_seed(task, difficulty, seed, k)] for k in chunks][w::workers] for w in range(workers)]
    out: queue.Queue = queue.Queue()
    procs = []

    def read(proc):
        for line in proc.stdout:
            out.put(json.loads(line))
        out.put(proc)

    try:
        for job in jobs:
            errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a full pipe would block it
            proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
            proc.errors = errors
            proc.stdin.write(json.dumps({"task": task, "level": DIFFICULTIES.index(difficulty),
                                         "size": CHUNK, "seeds": job}))
            proc.stdin.close()
            procs.append(proc)
            threading.Thread(target=read, args=(proc,), daemon=True).start()
        running = len(procs)
        while running:
            item = out.get()
            if isinstance(item, subprocess.Popen):
                running -= 1
                if item.wait() != 0:
                    item.errors.seek(0)
                    raise RuntimeError(f"the Mathematics Dataset generator failed for {task} {difficulty}:\n"
                                       + item.errors.read()[-3000:])
            else:
                yield item["chunk"], [tuple(p) for p in item["pairs"]]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.errors.close()


def arrow_path(task: str, difficulty: str, seed: int, data: Path | None = None) -> Path:
    return cache_path(task, difficulty, seed, data).with_suffix(".arrow")


def _shard_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def table(task: str, difficulty: str, seed: int = 0, data: Path | None = None) -> pa.Table:
    """The Arrow cache's raw pairs (columns ``question``, ``answer``; whole chunks, repeats included) as one
    table memory-mapped from its shards; shards that fail their checksum are dropped with all after them."""
    return _arrow_table(arrow_path(task, difficulty, seed, data), _header(task, difficulty, seed))


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_bytes())
    except (OSError, ValueError):
        return None


def _arrow_table(folder: Path, header: dict) -> pa.Table:
    manifest, good, tables = _manifest(folder), [], []
    if manifest is not None and {k: manifest.get(k) for k in header} == header:
        for shard in manifest.get("shards", []):
            path = folder / shard["file"]
            ok = path.is_file() and _shard_digest(path) == shard["sha256"]
            t = pa.ipc.open_file(pa.memory_map(str(path))).read_all() if ok else None
            if t is None or t.num_rows != shard["rows"] or t.num_rows % CHUNK:
                warnings.warn(f"discarding the damaged cache shard {path} and those after it; generating them "
                              "again", CorruptCacheWarning, stacklevel=3)
                break
            good.append(shard)
            tables.append(t)
    elif folder.is_dir():
        warnings.warn(f"discarding the outdated or unreadable cache {folder}; generating it again",
                      CorruptCacheWarning, stacklevel=3)
    if manifest is None or len(good) != len(manifest.get("shards", [])):
        _write_manifest(folder, header, good)
    schema = pa.schema([("question", pa.string()), ("answer", pa.string())])
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _write_manifest(folder: Path, header: dict, shards: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    keep = {s["file"] for s in shards}
    for stale in folder.glob("*.arrow"):
        if stale.name not in keep:
            stale.unlink()
    atomic_write(folder / "manifest.json", json.dumps({**header, "shards": shards}, indent=1).encode())


def _arrow_cache(task: str, difficulty: str, seed: int, data: Path | None, header: dict):
    """(raw pairs, save) of the Arrow cache: ``save(raw)`` writes what ``raw`` adds as one new shard. An
    absent cache starts from the JSON cache of the same samples when there is one."""
    folder = arrow_path(task, difficulty, seed, data)
    t = _arrow_table(folder, header)
    raw = list(zip(t.column("question").to_pylist(), t.column("answer").to_pylist()))
    shards = (_manifest(folder) or {}).get("shards", [])
    del t

    def save(pairs: Pairs) -> None:
        new = pairs[sum(s["rows"] for s in shards):]
        if not new:
            return
        name = f"{len(shards):05d}.arrow"
        body = pa.table({"question": [q for q, _ in new], "answer": [a for _, a in new]})
        tmp = folder / f".{name}.tmp"
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, body.schema) as writer:
            writer.write_table(body)
        os.replace(tmp, folder / name)
        shards.append({"file": name, "rows": len(new), "sha256": _shard_digest(folder / name)})
        _write_manifest(folder, header, shards)

    if not raw:
        raw = _load(cache_path(task, difficulty, seed, data), header)
        save(raw)
    return raw, save


def _hub_distinct(task: str, difficulty: str, path: str | Path | None = None) -> Pairs:
    """Every distinct (question, answer) of ``task`` at ``difficulty`` in the released train split, in order."""
    from .hub import dataset
    ds = dataset(HUB, task, split="train", path=path)
    per = len(ds) // len(DIFFICULTIES)
    part = ds.select(range(DIFFICULTIES.index(difficulty) * per, (DIFFICULTIES.index(difficulty) + 1) * per))
    return _unique([(q.rstrip("\n"), a.rstrip("\n")) for q, a in zip(part["question"], part["answer"])])


def resolve(source: str, task: str = TASKS[0]) -> str:
    """``source`` (one of ``SOURCES``) as the one that will be read: ``"auto"`` is ``"hub"`` where the hub
    (or the ``datasets`` cache) answers for ``task``, else ``"generator"``."""
    if source not in SOURCES:
        raise ValueError(f"unknown Mathematics Dataset source {source!r}; choose one of {list(SOURCES)}")
    if source != "auto":
        return source
    from . import hub as hub_module
    return "hub" if hub_module.readable(f"{HUB} ({task})", functools.partial(_probe, task)) else "generator"


def _probe(task: str) -> None:
    from .hub import dataset
    dataset(HUB, task, split="train")


def hub(task: str, difficulty: str, n: int, path: str | Path | None = None) -> Pairs:
    """The first ``n`` distinct (question, answer) pairs of ``task`` at ``difficulty`` among the released samples:
    the train split of ``HUB`` (``deepmind/math_dataset``, config ``task``) through ``datasets``, whose
    train-easy, train-medium and train-hard samples follow each other, ``HUB_PER_DIFFICULTY`` each; ``path``: a
    local copy of that split (``Dataset.save_to_disk``). ``datasets`` keeps it as memory-mapped Arrow."""
    check(task, difficulty, n)
    pairs = _hub_distinct(task, difficulty, path)
    if len(pairs) < n:
        raise ValueError(f"{HUB} holds {len(pairs)} distinct {task} ({difficulty}) questions, fewer than n={n}")
    return pairs[:n]


def _generate_chunks(path: Path, header: dict, raw: Pairs, more: int, progress: bool | None,
                     save=None) -> Pairs:
    """``raw`` (whole cached chunks) extended by ``more`` chunks, saved as they complete in order."""
    save = save or (lambda pairs: _save(path, header, pairs))
    task, difficulty, seed = header["task"], header["difficulty"], header["seed"]
    first = len(raw) // CHUNK
    chunks = range(first, first + more)
    if progress is None:
        progress = settings.progress()
    raw, done, saved = list(raw), {}, first
    with tqdm(total=more * CHUNK, desc=f"generating {task} ({difficulty})", unit="samples",
              disable=not progress, leave=False, dynamic_ncols=True, mininterval=1.0) as bar:
        for chunk, pairs in _workers(task, difficulty, seed, chunks, max(1, min(os.cpu_count() or 1, more))):
            done[chunk] = pairs
            bar.update(len(pairs))
            while len(raw) // CHUNK in done:  # the next chunk in order
                raw.extend(done.pop(len(raw) // CHUNK))
            if len(raw) // CHUNK - saved >= SAVE_EVERY:
                save(raw)
                saved = len(raw) // CHUNK
    save(raw)
    return raw


def _unique(raw: Pairs) -> Pairs:
    """The pairs in order, each question once (its first occurrence)."""
    seen, out = set(), []
    for q, a in raw:
        if q not in seen:
            seen.add(q)
            out.append((q, a))
    return out


def generate(task: str, difficulty: str, n: int, seed: int = 0, data: Path | None = None,
             progress: bool | None = None, storage: str | None = None) -> Pairs:
    """``n`` distinct (question, answer) pairs of ``task`` at ``difficulty`` from DeepMind's
    generator: deterministic in ``seed``, cached under ``data`` (default ``data/``) as ``storage``
    (one of ``STORAGES``; None: Arrow from ``ARROW_FROM`` samples on, else JSON)."""
    check(task, difficulty, n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if storage is not None and storage not in STORAGES:
        raise ValueError(f"storage must be None or one of {list(STORAGES)}, got {storage!r}")
    header = _header(task, difficulty, seed)
    path = cache_path(task, difficulty, seed, data)
    save = None
    if storage == "arrow" or (storage is None and n >= ARROW_FROM):
        raw, save = _arrow_cache(task, difficulty, seed, data, header)
    else:
        raw = _load(path, header)
    unique = _unique(raw)
    while len(unique) < n:
        rate = len(unique) / len(raw) if raw else 1.0  # distinct share so far
        more = math.ceil((n - len(unique)) / max(rate, MIN_NEW) / CHUNK)
        before = len(unique)
        raw = _generate_chunks(path, header, raw, more, progress, save)
        unique = _unique(raw)
        if len(unique) - before < MIN_NEW * more * CHUNK:
            raise ValueError(f"{task} ({difficulty}) yields few new questions: {len(unique)} distinct in "
                             f"{len(raw)} samples, fewer than the n={n} asked for")
    return unique[:n]


def splits(task: str, n_train: int, n_val: int, seed: int = 0, data: Path | None = None,
           progress: bool | None = None, storage: str | None = None, source: str = "generator",
           path: str | Path | None = None) -> dict[str, dict[str, Pairs]]:
    """``{"train": {difficulty: pairs}, "validation": {difficulty: pairs}}`` (App. C.7.2): from
    each difficulty's distinct samples, the first ``n_val`` are its validation set and the next
    ``n_train`` its training set, less any question in a validation set of any difficulty, so
    that no sample is both trained on and evaluated. ``source`` (one of ``SOURCES``): DeepMind's generator
    (seeded by ``seed``, cached under ``data`` as ``storage``), or the released samples (``path``: a local
    copy, as ``hub``), of which the training set is the rest when fewer than ``n_train`` remain."""
    check(task, n=n_train)
    check(task, n=n_val)
    if resolve(source, task) == "hub":
        pairs = {d: _hub_distinct(task, d, path)[:n_val + n_train] for d in DIFFICULTIES}
        short = {d: len(p) for d, p in pairs.items() if len(p) <= n_val}
        if short:
            raise ValueError(f"{HUB} holds too few distinct {task} questions for n_val={n_val}: {short}")
    else:
        pairs = {d: generate(task, d, n_val + n_train, seed, data, progress, storage) for d in DIFFICULTIES}
    val = {d: p[:n_val] for d, p in pairs.items()}
    held = {q for p in val.values() for q, _ in p}
    return {"train": {d: [x for x in p[n_val:] if x[0] not in held] for d, p in pairs.items()},
            "validation": val}
