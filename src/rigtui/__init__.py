"""rigtui: which local LLMs fit on your GPUs, split how, at what speed, and what to buy next."""

__version__ = "0.1.0"
