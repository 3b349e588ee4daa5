"""Byte-bounded storage and the Vary-aware response cache over it (injected clock)."""

from __future__ import annotations

import random

import pytest

from edgeproxy.cache import (
    ObjectStore,
    ResponseCache,
    build_stored,
    cache_key,
    storage_decision,
)
from edgeproxy.cache.store import KEY_OVERHEAD
from edgeproxy.config_types import CachePolicyConfig, Selection


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def charged(size: int, primary: str, variant: str, path: str) -> int:
    return size + len(primary) + len(variant) + len(path) + KEY_OVERHEAD


def check_consistent(store: ObjectStore) -> None:
    """Indexes, LRU and byte count agree."""
    entries = list(store)
    assert len(entries) == len(store)
    assert sum(e.size for e in entries) == store.currsize <= store.stats().max_bytes
    for e in entries:
        assert e in store.describe(e.path)
        assert e in store.variants(e.primary)
    assert set(store.paths()) == {e.path for e in entries}


# --------------------------------------------------------------------------- ObjectStore


def test_byte_bound_holds_under_many_inserts_and_evicts_lru():
    clock = Clock()
    store: ObjectStore[bytes] = ObjectStore(max_bytes=100_000, max_object_bytes=20_000, timer=clock)
    rng = random.Random(0)
    for i in range(3000):
        size = rng.randrange(0, 15_000)
        primary = f"/p{rng.randrange(200)}"
        assert store.put(primary, f"v{rng.randrange(3)}", b"x", path=primary, size=size, expires_at=clock.t + 1e6)
        assert store.currsize <= 100_000
        if i % 7 == 0:
            store.get(primary, "v0")
        clock.t += 0.01
    stats = store.stats()
    assert stats.evictions > 0 and stats.inserts == 3000
    check_consistent(store)


def test_lru_order_decides_what_is_evicted():
    clock = Clock()
    per = charged(1000, "/a", "", "/a")
    store: ObjectStore[str] = ObjectStore(max_bytes=3 * per, max_object_bytes=per, timer=clock)
    for name in ("/a", "/b", "/c"):
        assert store.put(name, "", name, path=name, size=1000, expires_at=clock.t + 100)
    assert store.get("/a", "") == "/a"  # /a is now most recently used
    assert store.put("/d", "", "/d", path="/d", size=1000, expires_at=clock.t + 100)
    assert store.get("/b", "") is None  # the least recently used went
    assert store.get("/a", "") == "/a" and store.get("/c", "") == "/c"
    assert store.stats().evictions == 1
    assert store.describe("/b") == [] and "/b" not in store.paths()
    check_consistent(store)


def test_too_large_objects_are_refused():
    store: ObjectStore[str] = ObjectStore(max_bytes=10_000, max_object_bytes=2_000, timer=Clock())
    assert not store.put("/big", "", "v", path="/big", size=5_000, expires_at=1e12)
    assert not store.put("/huge", "", "v", path="/huge", size=50_000, expires_at=1e12)
    assert store.put("/ok", "", "v", path="/ok", size=1_000, expires_at=1e12)
    assert store.stats().refused == 2 and len(store) == 1


def test_entries_expire_by_the_injected_clock():
    clock = Clock()
    store: ObjectStore[str] = ObjectStore(max_bytes=10**6, max_object_bytes=10**5, timer=clock)
    store.put("/a", "", "a", path="/a", size=10, expires_at=clock.t + 10)
    store.put("/b", "", "b", path="/b", size=10, expires_at=clock.t + 20)
    assert not store.put("/c", "", "c", path="/c", size=10, expires_at=clock.t)  # already expired
    clock.t += 10
    assert store.get("/a", "") is None
    assert store.get("/b", "") == "b"
    clock.t += 10
    assert store.expire() == 1
    assert len(store) == 0 and store.currsize == 0 and store.paths() == []
    assert store.stats().expirations == 2


def test_replacing_a_key_keeps_one_entry_and_right_expiry():
    clock = Clock()
    store: ObjectStore[str] = ObjectStore(max_bytes=10**6, max_object_bytes=10**5, timer=clock)
    store.put("/a", "", "old", path="/a", size=100, expires_at=clock.t + 5)
    store.put("/a", "", "new", path="/a", size=200, expires_at=clock.t + 50)
    assert len(store) == 1 and store.currsize == charged(200, "/a", "", "/a")
    clock.t += 10
    store.expire()  # the old heap item must not remove the new entry
    assert store.get("/a", "") == "new"
    check_consistent(store)


def test_invalidate_removes_every_variant_of_matching_paths():
    store: ObjectStore[str] = ObjectStore(max_bytes=10**6, max_object_bytes=10**5, timer=Clock())
    for primary, variant, path in [
        ("k1", "en", "/images/a.jpg"),
        ("k1", "fr", "/images/a.jpg"),
        ("k2", "", "/images/b.jpg?v=1"),
        ("k3", "", "/index.html"),
        ("k4", "", "/imagesX"),
    ]:
        store.put(primary, variant, path, path=path, size=10, expires_at=1e12)
    removed = store.invalidate(lambda p: p.startswith("/images/"))
    assert removed == 3
    assert store.variants("k1") == [] and store.get("k2", "") is None
    assert store.get("k3", "") == "/index.html" and store.get("k4", "") == "/imagesX"
    assert store.stats().invalidations == 3
    check_consistent(store)


def test_delete_primary_and_clear():
    store: ObjectStore[str] = ObjectStore(max_bytes=10**6, max_object_bytes=10**5, timer=Clock())
    store.put("k", "a", "1", path="/p", size=1, expires_at=1e12)
    store.put("k", "b", "2", path="/p", size=1, expires_at=1e12)
    assert store.delete_primary("k") == 2 and len(store) == 0
    store.put("k", "a", "1", path="/p", size=1, expires_at=1e12)
    store.clear()
    assert len(store) == 0 and store.currsize == 0 and store.describe("/p") == []


def test_invalid_limits_rejected():
    with pytest.raises(ValueError):
        ObjectStore(max_bytes=-1, max_object_bytes=0)


# --------------------------------------------------------------------------- ResponseCache

T0 = 1_700_000_000.0
POLICY = CachePolicyConfig("p", default_ttl=0)


def response(headers, body=b"body", method="GET", now=T0, status=200):
    decision = storage_decision(method, status, headers, POLICY, 10, None, now, now)
    assert decision, decision
    return build_stored(decision, body)


def test_vary_variants_are_selected_by_request_headers():
    clock = Clock(T0)
    cache = ResponseCache(10**6, 10**5, timer=clock)
    key = cache_key("GET", "/v", "", [], POLICY)
    r1 = response([("cache-control", "max-age=60"), ("vary", "Foo")], b"foo-1")
    r2 = response([("cache-control", "max-age=60"), ("vary", "Foo")], b"foo-2")
    assert cache.put(key, [("foo", "1")], r1)
    assert cache.put(key, [("foo", "2")], r2)  # does not replace the other variant
    assert cache.lookup(key, "GET", [("foo", "1"), ("other", "x")]).body == b"foo-1"
    assert cache.lookup(key, "GET", [("foo", " 2 ")]).body == b"foo-2"
    assert cache.lookup(key, "GET", []) is None
    assert cache.lookup(key, "GET", [("foo", "3")]) is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.objects) == (2, 2, 2)


def test_new_vary_list_replaces_old_variants():
    cache = ResponseCache(10**6, 10**5, timer=Clock(T0))
    key = cache_key("GET", "/v", "", [], POLICY)
    cache.put(key, [("foo", "1")], response([("cache-control", "max-age=60"), ("vary", "Foo")], b"old"))
    cache.put(key, [("foo", "1")], response([("cache-control", "max-age=60")], b"new"))
    assert cache.lookup(key, "GET", [("foo", "2")]).body == b"new"
    assert len(cache.store) == 1


def test_head_responses_only_serve_head():
    cache = ResponseCache(10**6, 10**5, timer=Clock(T0))
    key = cache_key("HEAD", "/h", "", [], POLICY)
    head = response([("cache-control", "max-age=60"), ("content-length", "42")], method="HEAD")
    assert cache.put(key, [], head)
    assert cache.lookup(key, "GET", []) is None
    assert cache.lookup(key, "HEAD", []).header("content-length") == "42"
    full = response([("cache-control", "max-age=60")], b"full body")
    cache.put(key, [], full)
    assert cache.lookup(key, "HEAD", []).body == b"full body"  # HEAD prefers the full object
    assert len(cache.store) == 1  # the head-only variant was superseded


def test_invalidation_by_path_and_describe():
    clock = Clock(T0)
    cache = ResponseCache(10**6, 10**5, timer=clock)
    policy = CachePolicyConfig("q", default_ttl=0, query_strings=Selection("all"), headers=("x-lang",))
    k_en = cache_key("GET", "/img.jpg", "v=1", [("x-lang", "en")], policy)
    k_fr = cache_key("GET", "/img.jpg", "v=1", [("x-lang", "fr")], policy)
    k_v2 = cache_key("GET", "/img.jpg", "v=2", [], policy)
    for k in (k_en, k_fr, k_v2):
        cache.put(k, [], response([("cache-control", "max-age=60")]))
    clock.t += 5
    info = cache.describe("/img.jpg?v=1")
    assert len(info) == 2 and all(i.fresh and i.remaining_ttl == pytest.approx(55) for i in info)
    assert cache.invalidate(lambda p: p == "/img.jpg?v=1") == 2
    assert cache.lookup(k_en, "GET", []) is None and cache.lookup(k_v2, "GET", []) is not None
    assert cache.invalidate(lambda p: p.startswith("/img.jpg")) == 1
    assert len(cache.store) == 0


def test_expired_objects_stay_for_revalidation_then_go():
    clock = Clock(T0)
    cache = ResponseCache(10**6, 10**5, timer=clock)
    key = cache_key("GET", "/e", "", [], POLICY)
    stored = response([("cache-control", "max-age=10, must-revalidate"), ("etag", '"x"')])
    cache.put(key, [], stored)
    clock.t += 100
    found = cache.lookup(key, "GET", [])
    assert found is stored and not found.is_fresh(clock.t)  # stale but kept: revalidate it
    clock.t = stored.retain_until()
    assert cache.lookup(key, "GET", []) is None


def test_discard_removes_the_variant():
    cache = ResponseCache(10**6, 10**5, timer=Clock(T0))
    key = cache_key("GET", "/d", "", [], POLICY)
    stored = response([("cache-control", "max-age=10"), ("vary", "x")])
    cache.put(key, [("x", "1")], stored)
    assert cache.discard(key, [("x", "1")], stored)
    assert cache.lookup(key, "GET", [("x", "1")]) is None


def test_response_cache_byte_bound_with_real_objects():
    clock = Clock(T0)
    cache = ResponseCache(200_000, 50_000, timer=clock)
    rng = random.Random(0)
    for i in range(500):
        body = bytes(rng.randrange(0, 30_000))
        key = cache_key("GET", f"/o{i % 50}", "", [], POLICY)
        stored = response([("cache-control", "max-age=60"), ("x-i", str(i))], body, now=clock.t)
        cache.put(key, [], stored)
        assert cache.store.currsize <= 200_000
        clock.t += 0.5
    check_consistent(cache.store)
    assert cache.stats().evictions > 0
