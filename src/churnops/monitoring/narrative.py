"""The drift report in words, for the terminal and the HTML page: when drift started and
whether it is still going, and what to do next about each finding."""

from __future__ import annotations

from dataclasses import dataclass

from churnops.monitoring.results import FeatureResult, GroupResult, JudgedChunk, judged, latest_run

PREDICTION = "prediction"
RETRAIN = "if the change is real, retrain on recent labelled data: churnops train --data FILE"
UPSTREAM = "check the upstream source of {name} first"
ROLLBACK = "churnops rollback"


def _still_shifted(chunk: JudgedChunk, later: list[JudgedChunk]) -> list[str]:
    """The features drifting in ``chunk`` that stay at 'warning' in every later chunk."""
    drifting = [name for name, v in chunk.features.items() if v.status == "drift"]
    return [
        name
        for name in drifting
        if all((v := c.verdict(name)) is not None and v.status == "warning" for c in later)
    ]


def _after(later: list[JudgedChunk], still: list[str]) -> str:
    """What the chunks after a run of drifting chunks say."""
    since = later[0].bounds.begins
    if len(later) == 1:
        text = f"the latest chunk (from {since}) does not drift"
    else:
        text = f"the {len(later)} chunks since ({since} on) do not drift"
    if still:
        return text + (
            f", though {', '.join(still)} stays shifted below the drift floor (warning): "
            "it may not be over"
        )
    return text + (": it has stopped" if len(later) > 1 else ": see whether the next run agrees")


def drift_timing(group: GroupResult) -> str | None:
    """When the latest drift started and whether it is still going, in one sentence (None
    when no chunk drifts and the window does not either). Chunks are numbered among all the
    group's chunks, those too small to judge included."""
    chunks = judged(group.chunks)
    run = latest_run(chunks)
    if run is None:
        if group.window_drift:
            return "no single chunk drifts, but the whole window does: a small, steady change"
        return None
    first, last = run
    number = {id(chunk): i + 1 for i, chunk in enumerate(group.chunks)}
    of = f"of {len(group.chunks)}"
    began = chunks[first].bounds.begins
    if last == len(chunks) - 1:
        if first == 0:
            return f"drift in every chunk, from the first ({began}) to the latest: still going"
        text = (
            f"drift started at {began} (chunk {number[id(chunks[first])]} {of}) and is still "
            f"going in the latest chunk"
        )
        if group.recent_drift and not group.window_drift:
            text += "; over the whole window it does not show yet"
        return text
    span = f"chunk {number[id(chunks[first])]}"
    if first != last:
        span = f"chunks {number[id(chunks[first])]}–{number[id(chunks[last])]}"
    later = chunks[last + 1 :]
    return f"drift from {began} to {chunks[last].bounds.ends} ({span} {of}); " + _after(
        later, _still_shifted(chunks[last], later)
    )


@dataclass(frozen=True)
class Advice:
    """A finding (a feature that drifts or warns) and what to do about it."""

    name: str
    finding: str
    steps: tuple[str, ...]


def _numeric_finding(entry: FeatureResult) -> str:
    stats = entry.numeric
    if stats is None:
        return "its values moved"
    if stats.mean_change is not None:
        return f"its mean moved by {stats.mean_change:+.1%}"
    if stats.reference_mean is not None and stats.current_mean is not None:
        return f"its mean went from {stats.reference_mean:.4g} to {stats.current_mean:.4g}"
    return "its distribution moved"


def _missing_moved(entry: FeatureResult, alpha: float) -> float | None:
    """The change of the missing-value rate, when its test is significant."""
    missing = entry.missing
    if missing is None or missing.missing_p_value_adjusted is None:
        return None
    return missing.missing_rate_change if missing.missing_p_value_adjusted < alpha else None


def _advice(name: str, entry: FeatureResult, alpha: float) -> Advice:
    upstream = UPSTREAM.format(name=name)
    missing = _missing_moved(entry, alpha)
    if missing:
        return Advice(
            name,
            f"its missing-value rate changed by {missing * 100:+.1f} percentage points",
            (
                f"{upstream}: values going missing usually means a broken feed or join",
                "fix the source rather than retrain: a model retrained now would learn the gap",
            ),
        )
    if entry.unseen_values:
        values = ", ".join(entry.unseen_values)
        return Advice(
            name,
            f"values never seen in training: {values}",
            (
                f"{upstream}: a respelling or a new code can be mapped to a known category",
                "if they are new values for real, retrain on recent labelled data so the model "
                "learns them: churnops train --data FILE",
            ),
        )
    if entry.kind == "categorical":
        change = f"{upstream} (a mapping or pipeline change?)"
        return Advice(name, "its mix of categories changed", (change, RETRAIN))
    change = f"{upstream} (a unit or pipeline change?)"
    return Advice(name, _numeric_finding(entry), (change, RETRAIN))


def _prediction_advice(inputs_moved: bool) -> Advice:
    if inputs_moved:
        steps = (
            "the scores moved with the inputs above: act on those",
            f"if the scores now mislead and the previous version coped better, roll back "
            f"meanwhile: {ROLLBACK}",
        )
    else:
        steps = (
            "each input alone looks stable: their combinations changed, or the served model "
            "scores differently from the one trained (a serving skew)",
            f"if this version was promoted recently, roll back ({ROLLBACK}) and compare the "
            "two versions' scores",
        )
    return Advice(PREDICTION, "the model's predicted probabilities moved", steps)


def next_steps(group: GroupResult, alpha: float) -> list[Advice]:
    """What to do about each feature (and the prediction) that drifts or warns, worst first;
    ``alpha`` is the rule's significance level."""
    flagged = [
        (name, entry)
        for name, entry in group.features.items()
        if entry.status in ("drift", "warning")
    ]
    flagged.sort(key=lambda item: item[1].status != "drift")
    advice = [_advice(name, entry, alpha) for name, entry in flagged]
    prediction = group.prediction
    if prediction is not None and prediction.status in ("drift", "warning"):
        inputs_moved = any(entry.status == "drift" for _, entry in flagged)
        advice.append(_prediction_advice(inputs_moved))
    return advice
