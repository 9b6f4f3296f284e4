"""Regenerate pipeline/protos/*_pb2.py from protos/*.proto (run: python -m pipeline.protos.generate).

The generated modules are committed so installs need no protoc; a test checks they are current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "protos"
OUT_DIR = Path(__file__).resolve().parent


def generate(out_dir: Path = OUT_DIR) -> list[Path]:
    """Compile every .proto into `out_dir`; returns the generated files."""
    from grpc_tools import protoc  # dev dependency, only needed to regenerate
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(PROTO_DIR.glob("*.proto"))
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}"]
    if protoc.main(args + [str(p) for p in protos]) != 0:
        raise SystemExit("protoc failed")
    generated = []
    for proto in protos:
        for suffix in ("_pb2.py", "_pb2.pyi"):
            path = out_dir / (proto.stem + suffix)
            # protoc emits absolute imports between our own modules; make them package-relative.
            text = re.sub(r"^import (\w+_pb2)", r"from . import \1", path.read_text(), flags=re.M)
            # Classes must know their real module, or pickling them (Beam's fallback coder) fails.
            text = re.sub(r"'(\w+_pb2)'", r"'pipeline.protos.\1'", text)
            path.write_text(text)
            generated.append(path)
    return generated


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(path)
