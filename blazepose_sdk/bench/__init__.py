"""Benchmarks for blazepose-sdk: model latency, pipeline throughput and accuracy.

Run ``blazepose bench latency|pipeline|accuracy|all --out DIR`` (see blazepose_sdk/bench/README.md).
Each suite prints a table, writes ``DIR/<suite>.json`` (with a ``machine`` object and one row per
model, the official BlazePose models included), and ``DIR/report.md`` with PNG plots. Only the
SDK's runtime dependencies are needed; rich, matplotlib and pycocotools add tables, plots and
COCO AP when installed.
"""
