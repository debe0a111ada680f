"""Many users at once, short: equal answers under load, sessions kept apart, files kept apart and removed,
and a full queue said so. The long version with every tab is `python -m bench.load`.

Two private apps (each with its own GRADIO_TEMP_DIR and TMPDIR, one thread per torch op):
the ordinary one, and one with a queue of 1 and a cache sweep of a few seconds.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import subprocess
import threading
import time

import numpy as np
import pytest

from bench import load as bl
from tests.conftest import free_port, start_app, wait_http

pytestmark = pytest.mark.slow
E = bl.EXAMPLES


def _app(tmp_path_factory, name: str, extra_env: dict | None = None):
    work = tmp_path_factory.mktemp(name)
    env = {k: v for k, v in bl.server_env(str(work), threads=1, extra=extra_env).items()
           if k in (*bl.THREAD_ENV, "GRADIO_TEMP_DIR", "TMPDIR", *(extra_env or {}))}
    port = free_port()
    proc = start_app(port, "--device", "cpu", env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=180, proc=proc)
    except Exception:
        proc.kill()
        pytest.fail(f"app did not start:\n{(proc.stdout.read() if proc.stdout else '')[-4000:]}")
    return proc, url, env, work


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _server_paths(value) -> list[str]:
    """The server-side file paths in an answer fetched with download_files=False."""
    if isinstance(value, dict):
        return ([value["path"]] if isinstance(value.get("path"), str) else []) + \
            [p for v in value.values() if isinstance(v, (dict, list, tuple)) for p in _server_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _server_paths(v)]
    return []


def _client(url, tmp_path, name, download=True):
    from gradio_client import Client
    return Client(url, verbose=False, download_files=str(tmp_path / name) if download else False)


@pytest.fixture(scope="module", autouse=True)
def _record_status():
    bl.recording_jobs()


# --------------------------------------------------------------------- the ordinary app

class TestManyUsers:
    @pytest.fixture(scope="class")
    def lab(self, tmp_path_factory):
        proc, url, env, work = _app(tmp_path_factory, "lab")
        yield url, env
        _stop(proc)

    def test_concurrent_answers_equal_alone(self, lab, tmp_path):
        """6 clients on the three cheapest tabs, 3 requests each at once: no failure, every answer as alone."""
        url, _ = lab
        photo = bl.File(os.path.join(E, "photos", "cat.jpg"))
        bikes = bl.File(os.path.join(E, "clips", "bikes.mp4"))
        cases = [bl.Case("jigsaw/astronaut k7", "jigsaw", "/jigsaw_solve",
                         [bl.File(os.path.join(E, "photos", "astronaut.jpg")), 7, False]),
                 bl.Case("jigsaw/cat k42", "jigsaw", "/jigsaw_solve", [photo, 42, False]),
                 bl.Case("videomae/bikes s0", "videomae", "/videomae_reconstruct", [bikes, 0.9, "tube", 0]),
                 bl.Case("videomae/bikes s1", "videomae", "/videomae_reconstruct", [bikes, 0.75, "random", 1]),
                 bl.Case("sequence_sort/bikes s0", "sequence_sort", "/sequence_sort_sort", [bikes, "auto", "random", 0])]
        ref = bl.alone(url, cases, str(tmp_path / "alone"), repeats=1, log=lambda *a: None)
        work = [[c for c in cases if c.tab == tab] for tab in ("jigsaw", "videomae", "sequence_sort")] * 2
        work = [[w[(i + j) % len(w)] for j in range(3)] for i, w in enumerate(work)]
        clients = [bl.make_client(url, str(tmp_path / f"c{i}")) for i in range(len(work))]
        res = bl.load_round(clients, work)
        bl.close_all(clients)
        assert len(res) == 18
        failures = [(r["case"], r["error"]) for r in res if not r["ok"]]
        assert not failures, failures
        mismatches = []
        for r in res:
            e = ref[r["case"]]
            bad = bl.compare(e["out"], e["digest"], r["out"], bl.digest(r["out"]))
            if bad:
                mismatches.append((r["case"], bad))
        assert not mismatches, mismatches
        waits = [r["queue_wait"] for r in res]
        assert all(w is not None and w >= 0 for w in waits), "the status updates carry process_starts"

    def test_live_training_stays_in_its_session(self, lab, tmp_path):
        """A trains jigsaw (10 steps from the shipped model); B, during and after, still gets the shipped answer."""
        url, _ = lab
        from gradio_client import handle_file
        photo = os.path.join(E, "photos", "astronaut.jpg")
        a, b = _client(url, tmp_path, "a"), _client(url, tmp_path, "b")
        solve = lambda c: c.predict(handle_file(photo), 7, False, api_name="/jigsaw_solve")  # noqa: E731
        before = solve(b)
        assert "the shipped model" in before[4]
        job = a.submit(handle_file(photo), 10, "from the shipped model", api_name="/jigsaw_train")
        during = solve(b)
        _, msg = job.result(timeout=300)
        assert "Trained 10 steps" in msg
        after_a, after_b = solve(a), solve(b)
        fresh = solve(_client(url, tmp_path, "c"))
        assert "your model (10 live steps" in after_a[4], "A's own session must use A's trained model"
        for got in (during, after_b, fresh):
            assert "the shipped model" in got[4]
            assert bl.digest(got) == bl.digest(before), "another visitor's training changed what B sees"
        # A's model did learn something of its own: its answer is not the shipped one (probabilities differ)
        assert bl.digest(after_a[3]) != bl.digest(before[3])

    def test_output_files_never_collide(self, lab, tmp_path):
        """Four visitors at once, four different masks: four different served files, each the right one."""
        url, env = lab
        import httpx
        from gradio_client import handle_file
        bikes = os.path.join(E, "clips", "bikes.mp4")
        seeds = [0, 1, 2, 3]
        alone = _client(url, tmp_path, "alone")
        expect = {s: _sha(alone.predict(handle_file(bikes), 0.9, "tube", s, api_name="/videomae_reconstruct")[0])
                  for s in seeds}
        assert len(set(expect.values())) == len(seeds), "different seeds give different videos"
        clients = [_client(url, tmp_path, f"n{s}", download=False) for s in seeds]
        barrier = threading.Barrier(len(seeds))

        def go(i):
            barrier.wait()
            return clients[i].predict(handle_file(bikes), 0.9, "tube", seeds[i], api_name="/videomae_reconstruct")

        with concurrent.futures.ThreadPoolExecutor(len(seeds)) as ex:
            outs = list(ex.map(go, range(len(seeds))))
        videos = [_server_paths(o[0])[0] for o in outs]
        assert len(set(videos)) == len(seeds), videos
        for s, path in zip(seeds, videos):
            assert os.path.realpath(path).startswith(os.path.realpath(env["GRADIO_TEMP_DIR"])), path
            got = httpx.get(url + "gradio_api/file=" + path, timeout=30)
            assert got.status_code == 200
            assert hashlib.sha256(got.content).hexdigest() == expect[s], f"seed {s} got another visitor's video"

    def test_core_writers_give_each_call_its_own_folder(self, tmp_path, monkeypatch):
        """core.media.save_image/save_video from many threads at once: distinct folders, right contents."""
        from core import media
        monkeypatch.setattr(media, "TEMP_ROOT", str(tmp_path / "ssl-video-lab"))
        imgs = [np.full((16, 16, 3), 10 * i, np.uint8) for i in range(8)]
        barrier = threading.Barrier(len(imgs))

        def write(i):
            barrier.wait()
            return media.save_image(imgs[i], name="same_name.png")

        with concurrent.futures.ThreadPoolExecutor(len(imgs)) as ex:
            paths = list(ex.map(write, range(len(imgs))))
        assert len({os.path.dirname(p) for p in paths}) == len(imgs)
        for i, p in enumerate(paths):
            assert os.path.dirname(os.path.dirname(p)) == media.TEMP_ROOT
            assert np.array_equal(media.load_image(p)[0], imgs[i])
        clips = [media.save_video(np.full((4, 16, 16, 3), 60 * i, np.uint8), 4) for i in range(2)]
        assert len({os.path.dirname(p) for p in clips}) == 2


def test_old_output_folders_are_swept(tmp_path, monkeypatch):
    """core.media.cleanup_temp (run by every save) removes output folders older than TEMP_MAX_AGE_S."""
    from core import media
    monkeypatch.setattr(media, "TEMP_ROOT", str(tmp_path / "ssl-video-lab"))
    old = media.fresh_dir()
    recent = media.fresh_dir()
    past = time.time() - media.TEMP_MAX_AGE_S - 60
    os.utime(old, (past, past))
    new = os.path.dirname(media.save_image(np.zeros((4, 4, 3), np.uint8)))
    assert not os.path.exists(old)
    assert os.path.isdir(recent) and os.path.isdir(new)


def _files(folder: str) -> set[str]:
    return {os.path.join(d, n) for d, _, names in os.walk(folder) for n in names}


def test_nothing_is_left_behind_at_sigterm(tmp_path_factory, tmp_path):
    """A Space stops the app with SIGTERM: uploads, served results and output folders all go, even while
    the visitor's page is still connected; only the bundled examples gradio copied in at start stay."""
    from PIL import Image
    proc, url, env, work = _app(tmp_path_factory, "shutdown")
    cache, outputs = env["GRADIO_TEMP_DIR"], os.path.join(env["TMPDIR"], "ssl-video-lab")
    try:
        at_start = _files(cache)
        from gradio_client import handle_file
        photo = tmp_path / "my_photo.png"          # an upload that is not one of the examples
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(photo)
        c = _client(url, tmp_path, "visitor")
        c.predict(handle_file(str(photo)), 3, False, api_name="/jigsaw_solve")
        c.predict(handle_file(os.path.join(E, "clips", "bikes.mp4")), 0.9, "tube", 0, api_name="/videomae_reconstruct")
        made = _files(cache) - at_start
        assert any(p.endswith("my_photo.png") for p in made), made
        assert len(made) >= 4 and _files(outputs)
    finally:
        proc.terminate()            # the client above is still connected
        rc = proc.wait(timeout=30)
    left = {"served": sorted(_files(cache) - at_start), "outputs": sorted(_files(outputs))}
    assert left == {"served": [], "outputs": []}, (left, rc)


# --------------------------------------------------------------------- a queue of one, a quick cache sweep

class TestTinyQueue:
    SWEEP = (1, 6)        # every second, delete the app's cached files older than 6 s (queued jobs need theirs)

    @pytest.fixture(scope="class")
    def tiny(self, tmp_path_factory):
        proc, url, env, work = _app(tmp_path_factory, "tiny", {
            "SSL_LAB_QUEUE_SIZE": "1", "SSL_LAB_CACHE_SWEEP": ",".join(map(str, self.SWEEP))})
        yield url, env
        _stop(proc)

    def test_served_files_are_deleted_by_the_cache_sweep(self, tiny, tmp_path):
        url, env = tiny
        from gradio_client import handle_file
        c = _client(url, tmp_path, "sweep", download=False)
        out = c.predict(handle_file(os.path.join(E, "photos", "cat.jpg")), 3, False, api_name="/jigsaw_solve")
        paths = _server_paths(out)
        assert len(paths) == 3 and all(os.path.isfile(p) for p in paths)
        assert all(os.path.realpath(p).startswith(os.path.realpath(env["GRADIO_TEMP_DIR"])) for p in paths)
        deadline = time.monotonic() + 10 * sum(self.SWEEP)
        while time.monotonic() < deadline and any(os.path.exists(p) for p in paths):
            time.sleep(0.5)
        assert not any(os.path.exists(p) for p in paths), "delete_cache did not remove the served files"

    def test_a_full_queue_is_announced(self, tiny, tmp_path):
        """Queue of 1 and 2 running per event: of 10 visitors at once, some are told the queue is full."""
        url, _ = tiny
        from gradio_client import handle_file
        a, b = os.path.join(E, "tcc", "throw_a.mp4"), os.path.join(E, "tcc", "throw_b.mp4")
        clients = [_client(url, tmp_path, f"q{i}") for i in range(10)]
        barrier = threading.Barrier(len(clients))

        def go(c):
            barrier.wait()
            try:
                c.predict(handle_file(a), handle_file(b), "", api_name="/tcc_align")
                return "ok"
            except Exception as err:  # noqa: BLE001
                return f"{type(err).__name__}: {err}"

        with concurrent.futures.ThreadPoolExecutor(len(clients)) as ex:
            outcomes = list(ex.map(go, clients))
        full = [o for o in outcomes if "queue is full" in o.lower()]
        assert full, outcomes
        assert all(o.startswith("QueueError") for o in full)
        assert "ok" in outcomes, outcomes
        assert all(o == "ok" or o in full for o in outcomes), f"only 'queue full' may fail: {outcomes}"
        # and the app still serves the next visitor
        assert _client(url, tmp_path, "next").predict(handle_file(a), handle_file(b), "", api_name="/tcc_align")


def test_a_cached_image_is_never_served_half_written(tmp_path):
    """Two visitors getting the same picture share gradio's cached file; it must never be seen truncated.

    gradio 6.31 rewrote that file in place (bench.load caught an empty image.png); demos.common makes the
    write atomic. Here writers keep caching one picture while a reader keeps reading the shared path.
    """
    import demos.common
    from gradio import processing_utils as pu
    assert pu.save_pil_to_cache is demos.common._save_pil_to_cache_atomic
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    path = pu.save_pil_to_cache(img, str(tmp_path), format="png")
    full = os.path.getsize(path)
    stop, bad = threading.Event(), []

    def writer():
        while not stop.is_set():
            pu.save_pil_to_cache(img, str(tmp_path), format="png")

    def reader():
        for _ in range(300):
            with open(path, "rb") as f:
                n = len(f.read())
            if n != full:
                bad.append(n)

    ws = [threading.Thread(target=writer) for _ in range(2)]
    for w in ws:
        w.start()
    reader()
    stop.set()
    for w in ws:
        w.join()
    assert not bad, f"read a partial file {len(bad)} times (sizes {sorted(set(bad))[:5]}, full {full})"
