"""Helpers for the vision tests: small real ONNX models with known outputs, test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_yolo_onnx(path: Path, imgsz: int, names: list[str], preds: list[tuple],
                   scale_by_brightness: bool = True) -> Path:
    """Write a YOLO-shaped ONNX model whose output is fixed by ``preds``.

    ``preds``: (x1, y1, x2, y2, class_id, score) in model-input pixels.  The output is
    ``(1, 4 + nc, len(preds))`` like an exported YOLO head; when ``scale_by_brightness`` is
    set, every score is multiplied by the input's mean value (0..1), so two images of
    different brightness give different, known scores.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper  # noqa: I001

    nc = len(names)
    n = len(preds)
    boxes = np.zeros((1, 4 + nc, n), np.float32)
    scores = np.zeros((1, 4 + nc, n), np.float32)
    for j, (x1, y1, x2, y2, c, s) in enumerate(preds):
        boxes[0, 0:4, j] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        scores[0, 4 + int(c), j] = s
    nodes = [
        helper.make_node("Constant", [], ["boxes"], value=numpy_helper.from_array(boxes, "boxes_v")),
        helper.make_node("Constant", [], ["scores"], value=numpy_helper.from_array(scores, "scores_v")),
    ]
    if scale_by_brightness:
        nodes += [
            helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
            helper.make_node("Mul", ["scores", "m"], ["scaled"]),
        ]
    else:
        nodes += [
            helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
            helper.make_node("Sub", ["m", "m"], ["z"]),
            helper.make_node("Add", ["scores", "z"], ["scaled"]),
        ]
    nodes.append(helper.make_node("Add", ["boxes", "scaled"], ["output0"]))
    graph = helper.make_graph(
        nodes, "fixed_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    names_meta = "{" + ", ".join(f"{i}: '{nm}'" for i, nm in enumerate(names)) + "}"
    for k, v in {"names": names_meta, "imgsz": f"[{imgsz}, {imgsz}]"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def write_yolo_labels(path: Path, boxes: list[tuple], size: int) -> None:
    """(class, x1, y1, x2, y2) pixel boxes -> YOLO label file for a ``size`` x ``size`` image."""
    lines = []
    for c, x1, y1, x2, y2 in boxes:
        lines.append(f"{c} {(x1 + x2) / 2 / size:.6f} {(y1 + y2) / 2 / size:.6f} "
                     f"{(x2 - x1) / size:.6f} {(y2 - y1) / size:.6f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
