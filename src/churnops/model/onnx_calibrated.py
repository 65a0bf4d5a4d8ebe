"""The ONNX graph of a calibrated forest: the forest's churn probability, then its calibration
map, both in float64, behind the same single float32 input as every served model.

Why not skl2onnx's ``CalibratedClassifierCV`` converter: its isotonic map returns the value of
the *nearest* threshold where scikit-learn interpolates linearly between thresholds (1e-2 apart
on the default data), and its forest output is float32. An isotonic map has near-vertical
segments (thresholds 1e-7 apart, slopes above 10⁴), which turn float32 rounding of the forest's
output (3e-8) into probability errors above the 1e-5 parity limit. So the forest is encoded here
as one ``TreeEnsemble`` node (ONNX-ML opset 5, float64 throughout: the float32 input is cast up,
which is exactly what scikit-learn's trees compare), and the calibration map is written with
standard operators in the same arithmetic as scikit-learn and SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.isotonic import IsotonicRegression

from churnops.model.onnx_model import INPUT_NAME

OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 5)]
AVERAGE = 0  # TreeEnsemble's aggregate_function
BRANCH_LEQ = 0  # TreeEnsemble's node mode: true branch when x ≤ split, as in scikit-learn


class _Graph:
    """Nodes and constants appended in order; ``prefix`` keeps each member's names apart."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.prefix = ""

    def constant(self, name: str, value: np.ndarray | float, dtype: type = np.float64) -> str:
        name = self.prefix + name
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def integer(self, name: str, value: int | list[int]) -> str:
        return self.constant(name, np.asarray(value), np.int64)

    def op(self, op_type: str, inputs: list[str], output: str, **attributes: Any) -> str:
        output = self.prefix + output
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output


@dataclass
class _Trees:
    """A forest as TreeEnsemble's lists: ``nodes_*`` for interior nodes, ``leaf_*`` for leaves."""

    features: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    true_ids: list[int] = field(default_factory=list)
    true_leaf: list[int] = field(default_factory=list)
    false_ids: list[int] = field(default_factory=list)
    false_leaf: list[int] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, estimator: Any) -> None:
        """One fitted tree: interior nodes send ``x ≤ threshold`` to the left child as
        scikit-learn does; each leaf weighs its share of churners."""
        tree = estimator.tree_
        left, right = tree.children_left, tree.children_right
        interior, leaves = np.flatnonzero(left != -1), np.flatnonzero(left == -1)
        position = {int(n): len(self.features) + i for i, n in enumerate(interior)}
        position |= {int(n): len(self.weights) + i for i, n in enumerate(leaves)}
        self.roots.append(len(self.features))
        if not len(interior):  # a single leaf: one node whose two branches both reach it
            self._node(0, 0.0, (position[0], True), (position[0], True))
        for n in interior:
            true_child, false_child = int(left[n]), int(right[n])
            self._node(
                int(tree.feature[n]),
                float(tree.threshold[n]),
                (position[true_child], left[true_child] == -1),
                (position[false_child], left[false_child] == -1),
            )
        values = tree.value[leaves, 0, :]
        self.weights.extend((values[:, 1] / values.sum(axis=1)).tolist())

    def _node(
        self, feature: int, split: float, true: tuple[int, bool], false: tuple[int, bool]
    ) -> None:
        self.features.append(feature)
        self.splits.append(split)
        self.true_ids.append(true[0])
        self.true_leaf.append(int(true[1]))
        self.false_ids.append(false[0])
        self.false_leaf.append(int(false[1]))


def _forest(graph: _Graph, forest: RandomForestClassifier, source: str) -> str:
    """The mean over trees of each leaf's share of churners: ``predict_proba[:, 1]``."""
    trees = _Trees()
    for estimator in forest.estimators_:
        trees.add(estimator)
    return graph.op(
        "TreeEnsemble",
        [source],
        "forest",
        domain="ai.onnx.ml",
        aggregate_function=AVERAGE,
        post_transform=0,
        n_targets=1,
        tree_roots=trees.roots,
        nodes_featureids=trees.features,
        nodes_splits=numpy_helper.from_array(np.asarray(trees.splits, dtype=np.float64)),
        nodes_modes=numpy_helper.from_array(
            np.full(len(trees.features), BRANCH_LEQ, dtype=np.uint8)
        ),
        nodes_truenodeids=trees.true_ids,
        nodes_trueleafs=trees.true_leaf,
        nodes_falsenodeids=trees.false_ids,
        nodes_falseleafs=trees.false_leaf,
        leaf_targetids=[0] * len(trees.weights),
        leaf_weights=numpy_helper.from_array(np.asarray(trees.weights, dtype=np.float64)),
    )


def _sigmoid(graph: _Graph, a: float, b: float, score: str) -> str:
    """Platt scaling as scikit-learn computes it: ``expit(-(a × score + b))``."""
    scaled = graph.op("Mul", [graph.constant("platt_a", a), score], "platt_scaled")
    shifted = graph.op("Add", [scaled, graph.constant("platt_b", b)], "platt_shifted")
    return graph.op("Sigmoid", [graph.op("Neg", [shifted], "platt_negated")], "calibrated")


def _isotonic(graph: _Graph, isotonic: IsotonicRegression, score: str) -> str:
    """Clip to the fitted range, then SciPy's linear interpolation between the thresholds:
    ``hi`` is the first threshold ≥ score (``searchsorted``), kept within [1, n − 1]."""
    xs, ys = isotonic.X_thresholds_, isotonic.y_thresholds_
    if len(xs) == 1:  # one value everywhere: scikit-learn predicts it for any input
        nothing = graph.op("Mul", [score, graph.constant("iso_zero", 0.0)], "iso_nothing")
        return graph.op("Add", [nothing, graph.constant("iso_only", ys[0])], "calibrated")
    low, high = (
        graph.constant("iso_min", isotonic.X_min_),
        graph.constant("iso_max", isotonic.X_max_),
    )
    clipped = graph.op("Clip", [score, low, high], "iso_clipped")
    thresholds, values = graph.constant("iso_x", xs), graph.constant("iso_y", ys)
    below = graph.op("Less", [thresholds, clipped], "iso_below")  # [rows, thresholds]
    count = graph.op("Cast", [below], "iso_count", to=TensorProto.INT64)
    index = graph.op("ReduceSum", [count, graph.integer("iso_axis", [1])], "iso_index")
    bounds = [graph.integer("iso_first", 1), graph.integer("iso_last", len(xs) - 1)]
    hi = graph.op("Clip", [index, *bounds], "iso_hi")
    lo = graph.op("Sub", [hi, graph.integer("iso_step", 1)], "iso_lo")
    x_lo, x_hi = (graph.op("Gather", [thresholds, i], f"iso_x_{i}") for i in (lo, hi))
    y_lo, y_hi = (graph.op("Gather", [values, i], f"iso_y_{i}") for i in (lo, hi))
    slope = graph.op(
        "Div",
        [graph.op("Sub", [y_hi, y_lo], "iso_rise"), graph.op("Sub", [x_hi, x_lo], "iso_run")],
        "iso_slope",
    )
    offset = graph.op("Sub", [clipped, x_lo], "iso_offset")
    return graph.op("Add", [graph.op("Mul", [slope, offset], "iso_scaled"), y_lo], "calibrated")


def calibrated_onnx(model: CalibratedClassifierCV, width: int) -> bytes:
    """The graph of a fitted binary ``CalibratedClassifierCV`` of forests: each (forest,
    calibrator) pair's churn probability, averaged as scikit-learn does; outputs ``label`` and
    ``probabilities`` ([stay, churn]) like skl2onnx's graphs."""
    graph = _Graph()
    wide = graph.op("Cast", [INPUT_NAME], "features_double", to=TensorProto.DOUBLE)
    members = []
    for index, pair in enumerate(model.calibrated_classifiers_):
        graph.prefix = f"m{index}_"
        (calibrator,) = pair.calibrators
        score = _forest(graph, pair.estimator, wide)
        if model.method == "sigmoid":
            members.append(_sigmoid(graph, float(calibrator.a_), float(calibrator.b_), score))
        else:
            members.append(_isotonic(graph, calibrator, score))
    graph.prefix = ""
    total = graph.op("Sum", members, "calibrated_sum")
    churn = graph.op("Div", [total, graph.constant("members", float(len(members)))], "churn")
    stay = graph.op("Sub", [graph.constant("one", 1.0), churn], "stay")
    graph.op("Concat", [stay, churn], "probabilities", axis=1)
    decided = graph.op("GreaterOrEqual", [churn, graph.constant("half", 0.5)], "decided")
    graph.op("Cast", [decided], "label", to=TensorProto.INT64)
    onnx_graph = helper.make_graph(
        graph.nodes,
        "calibrated_churn_forest",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, width])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None, 1]),
            helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, 2]),
        ],
        initializer=graph.constants,
    )
    # the oldest file format these opsets allow, not the newest this onnx package knows: an ONNX
    # Runtime older than the training install's onnx must still load the graph
    proto = helper.make_model(
        onnx_graph, opset_imports=OPSETS, ir_version=helper.find_min_ir_version_for(OPSETS)
    )
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())
