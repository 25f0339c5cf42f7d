"""`rigtui measure`: time one short generation on a running server and compare it with the prediction."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "measure",
        help="time one short generation on a running llama-server, Ollama or vLLM and compare it with the prediction",
        description="Send ONE short generation request (a fixed prompt of about 300 tokens, 64 new tokens by "
        "default) to a running server, read its decode and prefill speed, print it beside rigtui's prediction "
        "for the same model, quantization and context, and store it so that `rigtui fit` and the app calibrate "
        "their predictions for this rig.",
    )
    from rigtui.commands.common import add_rig_arguments
    from rigtui.sources.servers import KINDS

    parser.add_argument("--server", metavar="URL", help="server address such as http://127.0.0.1:8080 (default: the configured addresses)")
    parser.add_argument("--kind", choices=KINDS, help="server kind; without --server, probe only this kind's address")
    parser.add_argument("--model", metavar="NAME", help="model to generate with, as the server names it (default: the loaded one)")
    parser.add_argument("--catalog-model", metavar="NAME", help="catalog model to predict for, when the server's name matches none")
    parser.add_argument("--quant", metavar="NAME", help="quantization to predict for (default: what the server reports)")
    parser.add_argument("--context", type=int, metavar="TOKENS", help="context length to predict for (default: the server's)")
    parser.add_argument("--tokens", type=int, default=64, metavar="N", help="tokens to generate, 1 to 512 (default: 64)")
    parser.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS", help="limit for the generation request (default: 180)")
    parser.add_argument("--no-save", action="store_true", help="print the measurement without storing it")
    add_rig_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.commands.catalog import open_catalog
    from rigtui.commands.common import UsageError
    from rigtui.sources.measure import MeasureFailed, measure_generation

    if args.timeout <= 0:
        return _usage(f"--timeout: invalid value {args.timeout:g}; use a positive number of seconds such as 180")
    if not 1 <= args.tokens <= 512:
        return _usage(f"--tokens: invalid value {args.tokens}; use 1 to 512")
    catalog = open_catalog()
    if catalog is None:
        return EXIT_FAILURE
    try:
        rig, memory = _rig(catalog, args)
    except UsageError as exc:
        return _usage(str(exc))
    status = _find_server(args)
    if isinstance(status, str):
        print(f"rigtui: error: {status}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        timing = measure_generation(status, args.model, args.tokens, args.timeout)
    except MeasureFailed as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        config = _configuration(catalog, rig, status, timing, args)
    except UsageError as exc:
        return _usage(str(exc))
    report = _report(rig, status, timing, config, memory)
    if not args.no_save:
        report["saved_to"], report["rig_measurements"] = _save(rig, status, timing, config)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"rigtui: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _rig(catalog, args: argparse.Namespace):
    """Return the rig from the rig options, or from NVML when no --gpu is given, and the GPUs' memory use."""
    from dataclasses import replace

    from rigtui.commands.common import UsageError, build_rig
    from rigtui.errors import RigtuiError

    if args.gpu:
        return build_rig(catalog, args), ()
    from rigtui.commands.common import lookup
    from rigtui.hardware import detect_rig, open_source
    from rigtui.hardware.memory_use import memory_use

    try:
        source = open_source()
    except RigtuiError as exc:
        raise UsageError(f"no GPU given and none detected ({exc.message}); add --gpu NAME, such as --gpu 'RTX 4090'") from None
    try:
        detected = detect_rig(source.info(), catalog, lookup("os", catalog.os, args.os))
        memory, _ = memory_use(source)
    finally:
        source.close()
    if detected.rig is None:
        raise UsageError("no detected GPU matches a catalog entry; add --gpu NAME for each card")
    # The server itself holds memory on the GPUs, and the prediction is for the model it already runs.
    rig = detected.rig.with_gpus(tuple(replace(g, used_bytes=0) for g in detected.rig.gpus))
    return rig, memory


def _find_server(args: argparse.Namespace):
    """Return the first server that answers, or one line saying what was tried."""
    from rigtui.paths import user_paths
    from rigtui.sources.servers import ServerTarget, configured_targets, detect_kind, normalize_url, probe

    if args.server:
        try:
            url = normalize_url(args.server)
        except ValueError as exc:
            return f"--server: {exc}"
        status = probe(ServerTarget(args.kind, url)) if args.kind else detect_kind(url)
        return status if status.ok else status.error
    targets, problems = configured_targets(user_paths().config_file)
    for problem in problems:
        print(f"rigtui: warning: {problem}", file=sys.stderr)
    if args.kind:
        targets = [t for t in targets if t.kind == args.kind] or [ServerTarget(args.kind, _default(args.kind))]
    failures = []
    for target in targets:
        status = probe(target)
        if status.ok:
            return status
        failures.append(f"{target.kind}: {status.error}")
    return f"no running server found ({'; '.join(failures)}); start one, or pass --server URL"


def _default(kind: str) -> str:
    from rigtui.sources.servers import DEFAULT_URLS

    return DEFAULT_URLS[kind]


def _configuration(catalog, rig, status, timing, args: argparse.Namespace) -> dict[str, Any]:
    """Resolve the catalog model, quantization, runtime and context, then predict their speed."""
    from rigtui.commands.common import UsageError, lookup
    from rigtui.core.rig import Workload
    from rigtui.core.served import RUNTIME_FOR_KIND, match_model, match_quant

    loaded = next((m for m in status.models if m.name == timing.model_name), status.models[0] if status.models else None)
    names = [n for n in (timing.model_name, loaded.name if loaded else None) if n]
    if args.catalog_model:
        model = lookup("models", catalog.model, args.catalog_model)
        unmatched = None
    else:
        model, suggestions = match_model(catalog, names)
        hint = f" (closest: {', '.join(suggestions)})" if suggestions else ""
        unmatched = None if model else (
            f"the server's model {names[0] if names else '?'!r} matches no catalog model{hint}; "
            "pass --catalog-model NAME to compare with a prediction"
        )
    quant = lookup("quants", catalog.quant, args.quant) if args.quant else match_quant(
        catalog, [loaded.quant if loaded else None, *names], status.kind
    )
    runtime = catalog.runtimes.get(RUNTIME_FOR_KIND[status.kind])
    context = args.context or (loaded.context if loaded else None) or 8192
    if args.context is not None and args.context <= 0:
        raise UsageError(f"--context: invalid value {args.context}; use a positive number of tokens such as 8192")
    config: dict[str, Any] = {"model": model, "quant": quant, "runtime": runtime, "context": context, "unmatched": unmatched,
                              "result": None, "why_no_prediction": unmatched}
    if model is None:
        return config
    if quant is None or runtime is None:
        config["why_no_prediction"] = "the quantization is unknown; pass --quant NAME" if quant is None else (
            f"the catalog has no runtime {RUNTIME_FOR_KIND[status.kind]!r}")
        return config
    from rigtui.core.fit import fit

    kv = "auto" if runtime.engine in ("vllm", "sglang") else "f16"
    workload = Workload(model=model, quant=quant, runtime=runtime, context=context, kv_cache=kv,
                        prompt=timing.prompt_tokens or 512, ggml_types=dict(catalog.ggml_types))
    try:
        result = fit(rig, workload, with_max_context=False)
    except ValueError as exc:
        config["why_no_prediction"] = str(exc)
        return config
    config["result"] = result
    if not result.fits or result.decode is None:
        config["why_no_prediction"] = f"{model.name} at {quant.name} does not fit this rig as given, so there is no prediction"
    return config


def _report(rig, status, timing, config: dict[str, Any], memory) -> dict[str, Any]:
    from rigtui.core.rig_calibration import rig_fingerprint

    result = config["result"]
    predicted = result if result is not None and result.fits and result.decode is not None else None

    def ratio(measured: float | None, expected: float | None) -> float | None:
        return round(measured / expected, 3) if measured and expected else None

    return {
        "server": {"kind": status.kind, "url": status.url, "version": status.version, "model": timing.model_name},
        "rig": rig_fingerprint(rig),
        "gpus": [g.name for g in rig.gpus],
        "catalog_model": config["model"].id if config["model"] else None,
        "quant": config["quant"].id if config["quant"] else None,
        "runtime": config["runtime"].id if config["runtime"] else None,
        "context": config["context"],
        "measured": {
            "decode_tokens_per_s": _round(timing.decode_tps),
            "prefill_tokens_per_s": _round(timing.prefill_tps),
            "prompt_tokens": timing.prompt_tokens,
            "generated_tokens": timing.generated_tokens,
            "wall_s": round(timing.wall_s, 3),
            "method": timing.method,
        },
        "predicted": None if predicted is None else {
            "split": predicted.split,
            "decode_tokens_per_s": predicted.decode.as_dict(),
            "prefill_tokens_per_s": predicted.prefill.as_dict() if predicted.prefill else None,
        },
        "decode_ratio": ratio(timing.decode_tps, predicted.decode.expected if predicted else None),
        "prefill_ratio": ratio(timing.prefill_tps, predicted.prefill.expected if predicted and predicted.prefill else None),
        "no_prediction_reason": config["why_no_prediction"] if predicted is None else None,
        "gpu_memory": [
            {"index": m.index, "name": m.name, "used_bytes": m.used_bytes, "total_bytes": m.total_bytes,
             "processes": [{"pid": p.pid, "name": p.name, "used_bytes": p.used_bytes} for p in m.processes]}
            for m in memory
        ],
        "saved_to": None,
        "rig_measurements": None,
    }


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _save(rig, status, timing, config: dict[str, Any]) -> tuple[str | None, int | None]:
    from rigtui.core.rig_calibration import Measurement, calibrates, matching, rig_fingerprint
    from rigtui.sources.measurements import append_record, load_measurements

    if config["model"] is None:
        # Without a catalog model the record could never calibrate a prediction.
        print("rigtui: note: the measurement is not stored: the server's model matches no catalog model; "
              "pass --catalog-model NAME to store it", file=sys.stderr)
        return None, None
    result = config["result"]
    predicted = result if result is not None and result.fits and result.decode is not None else None
    runtime_id = config["runtime"].id if config["runtime"] else status.kind
    measurement = Measurement(
        rig=rig_fingerprint(rig),
        runtime=runtime_id,
        model=config["model"].id if config["model"] else None,
        quant=config["quant"].id if config["quant"] else None,
        context=config["context"],
        decode_tps=timing.decode_tps,
        prefill_tps=timing.prefill_tps,
        predicted_decode_tps=predicted.decode.expected if predicted else None,
        predicted_prefill_tps=predicted.prefill.expected if predicted and predicted.prefill else None,
        measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    extra = {"server_kind": status.kind, "server_url": status.url, "server_version": status.version,
             "server_model": timing.model_name, "gpus": [g.name for g in rig.gpus],
             "prompt_tokens": timing.prompt_tokens, "generated_tokens": timing.generated_tokens}
    try:
        path = append_record(measurement, extra)
    except OSError as exc:
        print(f"rigtui: warning: could not store the measurement: {exc.strerror or exc}; it is printed only", file=sys.stderr)
        return None, None
    stored, _ = load_measurements(path)
    calibrating = [m for m in matching(stored, rig, runtime_id) if calibrates(m)]
    return str(path), len(calibrating)


def _tps(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _print_report(report: dict[str, Any]) -> None:
    server, measured, predicted = report["server"], report["measured"], report["predicted"]
    print(f"{server['kind']} at {server['url']}" + (f" ({server['version']})" if server["version"] else "")
          + f", model {server['model'] or '?'}")
    if report["catalog_model"]:
        print(f"  predicted for {report['catalog_model']} at {report['quant'] or '?'}, context {report['context']:,}, "
              f"runtime {report['runtime']}, on {' + '.join(report['gpus'])}")
    tokens = f"{measured['generated_tokens']} tokens" if measured["generated_tokens"] else "tokens"
    prompt = f" after a {measured['prompt_tokens']}-token prompt" if measured["prompt_tokens"] else ""
    print(f"generated {tokens}{prompt} in {measured['wall_s']:.1f} s ({measured['method']})")
    print(f"{'':9}{'measured':>12}  {'predicted (low-high)':<28}measured/predicted")
    for kind in ("decode", "prefill"):
        value = measured[f"{kind}_tokens_per_s"]
        guess = predicted and predicted[f"{kind}_tokens_per_s"]
        shown = f"{_tps(guess['expected'])} ({_tps(guess['low'])}-{_tps(guess['high'])})" if guess else "n/a"
        ratio = report[f"{kind}_ratio"]
        print(f"{kind:<9}{_tps(value) + ' tok/s':>12}  {shown:<28}{ratio if ratio is not None else 'n/a'}")
    if report["no_prediction_reason"]:
        print(f"no prediction: {report['no_prediction_reason']}")
    for gpu in report["gpu_memory"]:
        used = "n/a" if gpu["used_bytes"] is None else f"{gpu['used_bytes'] / (1 << 30):.1f}"
        total = "n/a" if gpu["total_bytes"] is None else f"{gpu['total_bytes'] / (1 << 30):.1f}"
        print(f"GPU {gpu['index']} {gpu['name']}: {used} of {total} GiB in use")
    if report["saved_to"]:
        count = report["rig_measurements"]
        print(f"stored in {report['saved_to']}" + (f"; {count} measurement{'s' if count != 1 else ''} of this rig and runtime now calibrate{'' if count != 1 else 's'} its predictions" if count else ""))
