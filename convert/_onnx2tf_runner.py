"""Child-process entry for onnx2tf: ``python _onnx2tf_runner.py ARGS.json``.

Kept free of project imports so it runs in any Python that has onnx2tf (see
convert.onnx_bridge.onnx_to_saved_model). ARGS.json holds keyword arguments of onnx2tf.convert.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    with open(sys.argv[1]) as f:
        kwargs = json.load(f)
    import onnx2tf

    onnx2tf.convert(**{k: v for k, v in kwargs.items() if v is not None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
