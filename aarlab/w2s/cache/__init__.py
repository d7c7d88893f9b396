"""Content-addressed caching of pipeline artifacts."""

from aarlab.w2s.cache._store import ArtifactCache, cache_key, canonical_json, examples_hash, model_fingerprint

__all__ = ["ArtifactCache", "cache_key", "canonical_json", "examples_hash", "model_fingerprint"]
