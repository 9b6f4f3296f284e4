"""All reading and writing: sources, sinks, the store, and the state that outlives a run."""

import os


def _use_system_allocator_for_arrow() -> None:
    """Arrow allocates from the system allocator, unless ARROW_DEFAULT_MEMORY_POOL names one.

    Arrow's default pool (mimalloc in pyarrow 25) keeps the pages of freed buffers, so the RSS of a
    long batch grows with the largest state partitions it has read, chunk after chunk. Measured with
    `benchmarks/chunk_memory.py` on 3,000 new articles against the 100k run's state: see
    docs/performance.md. Done here because every process that reads or writes Parquet (the run, a
    Prism or dask worker) imports this package first.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        import pyarrow as pa
    except ImportError:  # the environment check reports a missing pyarrow with one line
        return
    pa.set_memory_pool(pa.system_memory_pool())


_use_system_allocator_for_arrow()
