"""The weak-to-strong testbed: data, models, training, methods, pipeline, metrics."""
