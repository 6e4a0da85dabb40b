"""File I/O lives here, at the edges: stages themselves never touch files."""

from pipeline.io.atomic import atomic_path, write_bytes, write_csv, write_parquet, write_text

__all__ = ["atomic_path", "write_bytes", "write_text", "write_parquet", "write_csv"]
