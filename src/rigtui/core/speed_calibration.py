"""Fitted constants of the speed model.

Produced by ``bench/calibrate.py --write`` from the public measurements in
``tests/data/speed_benchmarks.csv`` (set-aside rows excluded); rerun that script to
regenerate this file instead of editing the numbers by hand. Keys run from general to
specific: "*" (every runtime), then an engine ("llama.cpp"), then engine/vendor
("llama.cpp/nvidia"), engine/vendor/architecture ("llama.cpp/nvidia/Ada Lovelace") and
engine/vendor/architecture/segment. The speed model merges the entries that match a
device, the most specific last.
"""

from __future__ import annotations

CALIBRATION: dict[str, dict[str, float]] = {'*': {'bandwidth_efficiency': 0.75,
       'compute_efficiency': 0.5,
       'cpu_bandwidth_efficiency': 0.6,
       'hop_latency_us': 200.0,
       'layer_overhead_us': 40.0,
       'quantized_bandwidth_factor': 1.0,
       'quantized_compute_factor': 0.8,
       'sync_latency_us': 30.0,
       'token_overhead_ms': 0.5},
 'exllama': {'bandwidth_efficiency': 0.75,
             'hop_latency_us': 400.0,
             'layer_overhead_us': 40.0,
             'quantized_bandwidth_factor': 1.1,
             'sync_latency_us': 30.0,
             'token_overhead_ms': 0.3636},
 'exllama/nvidia': {'bandwidth_efficiency': 0.7875,
                    'hop_latency_us': 2240.0,
                    'sync_latency_us': 30.0},
 'exllama/nvidia/Ampere': {'bandwidth_efficiency': 0.6379},
 'llama.cpp': {'bandwidth_efficiency': 0.7875,
               'compute_efficiency': 0.4987,
               'hop_latency_us': 1600.0,
               'layer_overhead_us': 50.0,
               'quantized_bandwidth_factor': 1.0,
               'quantized_compute_factor': 0.8,
               'sync_latency_us': 60.0,
               'token_overhead_ms': 1.1},
 'llama.cpp/amd': {'bandwidth_efficiency': 0.7088,
                   'hop_latency_us': 16000.0,
                   'sync_latency_us': 60.0},
 'llama.cpp/nvidia': {'bandwidth_efficiency': 0.8663,
                      'compute_efficiency': 0.525,
                      'hop_latency_us': 280.0,
                      'sync_latency_us': 51.3},
 'llama.cpp/nvidia/Ada Lovelace': {'bandwidth_efficiency': 0.9096, 'compute_efficiency': 0.6562},
 'llama.cpp/nvidia/Ada Lovelace/consumer': {'bandwidth_efficiency': 0.955,
                                            'compute_efficiency': 0.8728},
 'llama.cpp/nvidia/Ada Lovelace/datacenter': {'bandwidth_efficiency': 0.8595,
                                              'compute_efficiency': 0.3117},
 'llama.cpp/nvidia/Ada Lovelace/workstation': {'bandwidth_efficiency': 0.9096,
                                               'compute_efficiency': 0.4594},
 'llama.cpp/nvidia/Ampere': {'bandwidth_efficiency': 0.7796, 'compute_efficiency': 0.525},
 'llama.cpp/nvidia/Ampere/consumer': {'bandwidth_efficiency': 0.8576, 'compute_efficiency': 1.0},
 'llama.cpp/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.5457,
                                        'compute_efficiency': 0.399},
 'llama.cpp/nvidia/Ampere/workstation': {'bandwidth_efficiency': 0.8576,
                                         'compute_efficiency': 0.525},
 'llama.cpp/nvidia/Hopper': {'bandwidth_efficiency': 0.6064, 'compute_efficiency': 0.2625},
 'llama.cpp/nvidia/Hopper/datacenter': {'bandwidth_efficiency': 0.6064,
                                        'compute_efficiency': 0.2356},
 'mlc-llm': {'hop_latency_us': 200.0, 'sync_latency_us': 37.5},
 'mlc-llm/nvidia': {'hop_latency_us': 200.0, 'sync_latency_us': 35.625},
 'vllm': {'bandwidth_efficiency': 0.375,
          'hop_latency_us': 200.0,
          'layer_overhead_us': 160.0,
          'quantized_bandwidth_factor': 1.2128,
          'sync_latency_us': 60.0,
          'token_overhead_ms': 2.25},
 'vllm/nvidia': {'bandwidth_efficiency': 1.0, 'hop_latency_us': 200.0, 'sync_latency_us': 79.8},
 'vllm/nvidia/Ampere': {'bandwidth_efficiency': 0.6562},
 'vllm/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.6858}}

# Quantiles (5th and 95th) of log(measured / predicted) speed on the fitted rows: the
# range an estimate spans. Keys: "decode" or "prefill", then "single" or "multi".
SPREAD: dict[str, dict[str, tuple[float, float]]] = {'decode': {'multi': (-0.259, 0.098), 'single': (-0.08, 0.272)},
 'prefill': {'multi': (-0.732, 0.479), 'single': (-0.573, 0.386)}}
