"""The tiny suite's builder: a synthetic world and locally pretrained tiny Qwen3 models."""

from aarlab.suites.tiny._build import BuildError, build_tiny

__all__ = ["BuildError", "build_tiny"]
