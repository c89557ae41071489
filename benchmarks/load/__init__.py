"""Open-loop load on real sockets (docs/validate.md): schedules, exact prompts, the runner, summaries."""

from benchmarks.load.prompts import TOKENIZERS, PromptSet, build_prompts
from benchmarks.load.runner import LoadRun, RequestRecord, run_load, run_load_async
from benchmarks.load.schedule import ARRIVALS, Schedule, Shape, build_schedule, parse_shape
from benchmarks.load.summary import distribution, summarize, summary_csv

__all__ = [
    "ARRIVALS",
    "TOKENIZERS",
    "LoadRun",
    "PromptSet",
    "RequestRecord",
    "Schedule",
    "Shape",
    "build_prompts",
    "build_schedule",
    "distribution",
    "parse_shape",
    "run_load",
    "run_load_async",
    "summarize",
    "summary_csv",
]
