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
       'cpu_bandwidth_efficiency': 0.378,
       'hop_latency_us': 200.0,
       'layer_overhead_us': 40.0,
       'quantized_bandwidth_factor': 1.0,
       'quantized_compute_factor': 0.8,
       'sync_latency_us': 30.0,
       'token_overhead_ms': 0.5},
 'exllama': {'bandwidth_efficiency': 0.825,
             'hop_latency_us': 100.0,
             'layer_overhead_us': 42.0,
             'quantized_bandwidth_factor': 1.0,
             'sync_latency_us': 30.0,
             'token_overhead_ms': 0.4455},
 'exllama/nvidia': {'bandwidth_efficiency': 0.825,
                    'hop_latency_us': 0.3906,
                    'sync_latency_us': 30.0},
 'exllama/nvidia/Ada Lovelace': {'bandwidth_efficiency': 0.9075},
 'exllama/nvidia/Ada Lovelace/consumer': {'bandwidth_efficiency': 0.9529},
 'exllama/nvidia/Ampere': {'bandwidth_efficiency': 0.825},
 'exllama/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.825},
 'llama.cpp': {'bandwidth_efficiency': 0.7875,
               'compute_efficiency': 0.5,
               'hop_latency_us': 100.0,
               'layer_overhead_us': 58.8,
               'quantized_bandwidth_factor': 1.0,
               'quantized_compute_factor': 0.8,
               'sync_latency_us': 42.0,
               'token_overhead_ms': 0.9975},
 'llama.cpp/amd': {'bandwidth_efficiency': 0.7442,
                   'hop_latency_us': 17920.0,
                   'sync_latency_us': 42.0},
 'llama.cpp/apple': {'bandwidth_efficiency': 0.7796, 'compute_efficiency': 0.8594},
 'llama.cpp/apple/Apple M1': {'bandwidth_efficiency': 0.6733, 'compute_efficiency': 0.7031},
 'llama.cpp/apple/Apple M1/consumer': {'bandwidth_efficiency': 0.6733,
                                       'compute_efficiency': 0.7031},
 'llama.cpp/nvidia': {'bandwidth_efficiency': 0.9096,
                      'compute_efficiency': 0.5625,
                      'hop_latency_us': 215.061,
                      'sync_latency_us': 43.89},
 'llama.cpp/nvidia/Ada Lovelace': {'bandwidth_efficiency': 0.9096, 'compute_efficiency': 0.7031},
 'llama.cpp/nvidia/Ada Lovelace/consumer': {'bandwidth_efficiency': 0.955,
                                            'compute_efficiency': 0.8121},
 'llama.cpp/nvidia/Ada Lovelace/datacenter': {'bandwidth_efficiency': 0.8595,
                                              'compute_efficiency': 0.3164},
 'llama.cpp/nvidia/Ada Lovelace/workstation': {'bandwidth_efficiency': 0.9096,
                                               'compute_efficiency': 0.4651},
 'llama.cpp/nvidia/Ampere': {'bandwidth_efficiency': 0.7796, 'compute_efficiency': 0.5344},
 'llama.cpp/nvidia/Ampere/consumer': {'bandwidth_efficiency': 0.8576, 'compute_efficiency': 1.0},
 'llama.cpp/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.5457,
                                        'compute_efficiency': 0.4115},
 'llama.cpp/nvidia/Ampere/workstation': {'bandwidth_efficiency': 0.8576,
                                         'compute_efficiency': 0.5077},
 'llama.cpp/nvidia/Hopper': {'bandwidth_efficiency': 0.6064, 'compute_efficiency': 0.2812},
 'llama.cpp/nvidia/Hopper/datacenter': {'bandwidth_efficiency': 0.6367,
                                        'compute_efficiency': 0.225},
 'mlc-llm': {'bandwidth_efficiency': 0.825,
             'hop_latency_us': 200.0,
             'layer_overhead_us': 38.0,
             'quantized_bandwidth_factor': 1.05,
             'sync_latency_us': 15.0,
             'token_overhead_ms': 0.4375},
 'mlc-llm/nvidia': {'bandwidth_efficiency': 0.7425,
                    'hop_latency_us': 200.0,
                    'sync_latency_us': 7.125},
 'mlc-llm/nvidia/Ampere': {'bandwidth_efficiency': 0.7054},
 'mlc-llm/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.7054},
 'vllm': {'bandwidth_efficiency': 0.525,
          'hop_latency_us': 200.0,
          'layer_overhead_us': 122.5,
          'quantized_bandwidth_factor': 1.05,
          'sync_latency_us': 21.0,
          'token_overhead_ms': 2.6068},
 'vllm/nvidia': {'bandwidth_efficiency': 0.667,
                 'hop_latency_us': 200.0,
                 'sync_latency_us': 16.0745},
 'vllm/nvidia/Ampere': {'bandwidth_efficiency': 0.525},
 'vllm/nvidia/Ampere/datacenter': {'bandwidth_efficiency': 0.5788}}

# Quantiles (5th and 95th) of log(measured / predicted) speed on rows each fit did not
# see (5-fold cross-validation by rig and model over the fitted rows): the range an
# estimate spans. Keys: "decode" or "prefill", then "single" or "multi".
SPREAD: dict[str, dict[str, tuple[float, float]]] = {'decode': {'multi': (-0.251, 0.157), 'single': (-0.153, 0.226)},
 'prefill': {'multi': (-0.945, 0.566), 'single': (-0.642, 0.349)}}
