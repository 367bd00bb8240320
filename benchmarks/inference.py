"""Inference: the 10,000 test images and single images, attire against the tutorial.

attire: `Classifier.load()` then `predict_proba(x_test)` (benchmarks/attire_inference.py).
TF: the tutorial's `probability_model.predict(test_images)`, after the tutorial's own
training (benchmarks/tutorial_keras.py --inference), and Keras's direct model call as
the fairest TF figure. Figures come from inside each process, so one process per
repeat is plenty: each is already a median of many calls.
"""

import sys

from common import (BENCHMARKS, Bench, Outcome, Section, attire_env, fmt, median,
                    parse_result, run_process)

SINGLE_CALLS = 200       # one-image calls per process; the latency is their median
SMOKE_SINGLE_CALLS = 10


def run(bench: Bench) -> Section:
    calls = SMOKE_SINGLE_CALLS if bench.smoke else SINGLE_CALLS
    contenders = {"attire (default model)": lambda r: run_attire(bench, r, calls)}
    if bench.tf_python:
        contenders = {"TF tutorial (Keras)": lambda r: run_tf(bench, r, calls), **contenders}
    outcomes: dict[str, list[Outcome]] = {name: [] for name in contenders}
    for repeat in range(1, bench.repeats + 1):
        for name, run_one in contenders.items():
            print(f"inference: {name}, run {repeat}/{bench.repeats} ...", flush=True)
            outcome = run_one(repeat)
            outcomes[name].append(outcome)
            print("  " + (f"{outcome.result.get('warm_predict_images_per_s', 0):.0f} images/s, "
                          f"{outcome.result.get('single_image_ms', 0):.2f} ms per image"
                          if outcome.ok else f"FAILED: {outcome.error}"), flush=True)
    return summarise(bench, outcomes)


def run_tf(bench: Bench, repeat: int, calls: int) -> Outcome:
    run_dir = bench.run_dir("inference", f"tf-tutorial-r{repeat}")
    command = [str(bench.tf_python), str(BENCHMARKS / "tutorial_keras.py"),
               "--inference", "--single-calls", str(calls)]
    outcome = run_process("TF tutorial (Keras)", command, run_dir / "log.txt",
                          env=bench.keras_env(), timeout_s=bench.timeout_s)
    return with_figures(outcome)


def run_attire(bench: Bench, repeat: int, calls: int) -> Outcome:
    run_dir = bench.run_dir("inference", f"attire-r{repeat}")
    command = [sys.executable, str(BENCHMARKS / "attire_inference.py"),
               "--data-dir", str(bench.data_dir), "--single-calls", str(calls)]
    if bench.attire_model:
        command += ["--model", str(bench.attire_model)]
    outcome = run_process("attire (default model)", command, run_dir / "log.txt",
                          env=attire_env(), timeout_s=bench.timeout_s)
    return with_figures(outcome)


def with_figures(outcome: Outcome) -> Outcome:
    result = parse_result(outcome.log) if outcome.ok else None
    if outcome.ok and not result:
        outcome.ok, outcome.error = False, f"exited 0 without a RESULT line; see {outcome.log}"
    if result:
        outcome.result, outcome.accuracy = result, result.get("test_accuracy")
    return outcome


def summarise(bench: Bench, outcomes: dict[str, list[Outcome]]) -> Section:
    def figure(name, key):
        return median(o.result.get(key) for o in outcomes.get(name, []) if o.ok)

    tf = "TF tutorial (Keras)"
    # (row label, contender, batch key, single-image key)
    rows = [(f"{tf}: predict()", tf, "warm_predict_images_per_s", "single_image_ms"),
            (f"{tf}: model(x) call", tf, "warm_call_images_per_s", "single_image_call_ms"),
            ("attire: Classifier.predict_proba", "attire (default model)",
             "warm_predict_images_per_s", "single_image_ms")]
    tf_rate, tf_single = figure(tf, "warm_predict_images_per_s"), figure(tf, "single_image_ms")
    summary = [["how", "runs ok", "images/s, 10,000 at once (warm)", "first call s",
                "one image ms, median", "× TF predict() rate", "TF predict() latency ÷ this",
                "test acc %"]]
    failures = 0
    for label, name, batch_key, single_key in rows:
        if name not in outcomes:
            continue
        runs = outcomes[name]
        good = [o for o in runs if o.ok]
        if batch_key == "warm_predict_images_per_s":  # count each process once
            failures += len(runs) - len(good)
        rate, single = figure(name, batch_key), figure(name, single_key)
        first = figure(name, "predict_seconds") if batch_key == "warm_predict_images_per_s" else None
        accuracy = figure(name, "test_accuracy")
        summary.append([
            label, f"{len(good)}/{len(runs)}" if good else f"0/{len(runs)}, failed",
            fmt(rate, ",.0f"), fmt(first, ".2f"), fmt(single, ".3g"),
            fmt(rate / tf_rate if rate and tf_rate else None, ".1f"),
            fmt(tf_single / single if single and tf_single else None, ".1f"),
            fmt(None if accuracy is None else 100 * accuracy, ".2f")])

    details = [["run", "contender", "process wall s", "status", "figures"]]
    for name, runs in outcomes.items():
        for i, o in enumerate(runs, 1):
            figures = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in o.result.items())
            details.append([str(i), name, f"{o.wall_s:.1f}",
                            "ok" if o.ok else f"FAILED: {o.error}", figures or "–"])

    model = bench.attire_model or "the shipped default model, `Classifier.load()`"
    threads = figure("attire (default model)", "torch_threads")
    notes = [f"attire's model: {model}; PyTorch with torch's default thread count "
             f"({fmt(threads, '.0f')} here), as in the ONNX section.",
             f"images/s: median of 3 warm calls on all 10,000 test images; first call s: the "
             f"first such call (TF: the tutorial's own predict, tracing included). One image: "
             f"median of {SMOKE_SINGLE_CALLS if bench.smoke else SINGLE_CALLS} calls on (1, 28, 28) "
             f"inputs after 5 warm-up calls.",
             "TF predict() runs batches of 32 and has a fixed cost per call; the direct "
             "model(x) call is Keras's fastest path, shown so the comparison is not a straw man.",
             "attire's input is the raw uint8 (10000, 28, 28) array; its preprocessing is "
             "inside the timed call. TF's input is the tutorial's test_images / 255.0."]
    if not bench.tf_python:
        notes.append(f"TF tutorial not run: {bench.tf_skip_reason}.")
    if bench.smoke:
        notes.append("SMOKE RUN: the TF model trained 1 epoch on 2,000 images; figures mean nothing.")
    return Section("Inference: 10,000 test images and one image at a time", summary, details,
                   notes, failures)
